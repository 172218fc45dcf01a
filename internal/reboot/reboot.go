// Package reboot takes the node down when a resource cannot be stopped.
// Heartbeat's answer to "Resource STOP failure. Reboot required!" is
// cl_reboot: sync(), then reboot(2), then the reboot program, and if all of
// that returns, "ALL REBOOT OPTIONS FAILED". Each of those steps can block
// on the very thing that made the stop fail: sync on a hung NFS or DRBD
// device, a reboot command on an init system stopping the hung mount. A node
// that stays up holding a resource the peer is about to take over is the one
// outcome this exists to prevent, so here every step has a deadline: sync
// runs in the background and is abandoned after SyncTimeout, and if the
// machine is still running ForceAfter after the reboot began, it is forced
// through /proc/sysrq-trigger, which restarts at once without syncing or
// shutting devices down.
package reboot

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"golang.org/x/sys/unix"

	"heartbeatd/internal/clock"
	"heartbeatd/internal/logging"
)

// Defaults for the zero values of Config's fields.
const (
	// DefaultSyncTimeout bounds the wait for sync(2). Flushing a healthy
	// machine's page cache takes well under this; a sync stuck behind a
	// dead NFS server or a frozen DRBD device never ends.
	DefaultSyncTimeout = 10 * time.Second
	// DefaultForceAfter is how long the reboot may take before it is
	// forced: room for a reboot command's orderly shutdown, short of the
	// dead times a peer typically uses.
	DefaultForceAfter = 20 * time.Second
)

// SysrqTrigger is the kernel's SysRq file; 'b' written to it restarts the
// machine at once. Writing it is allowed to root whatever
// /proc/sys/kernel/sysrq says: that setting only masks the keyboard.
const SysrqTrigger = "/proc/sysrq-trigger"

// EnvReason names the variable that carries Config.Reason to Command.
const EnvReason = "HEARTBEATD_REBOOT_REASON"

// Config says how to reboot. Its zero value, apart from Reason, reboots this
// machine for real: tests must set Sync, Restart or Command, and Force.
type Config struct {
	// Reason is logged and passed to Command in EnvReason.
	Reason string
	// Command, if not empty, is run (argv, no shell, our environment plus
	// EnvReason) in place of the kernel reboot: `heartbeatd
	// -reboot-command`. Its exit status 0 means the reboot is under way;
	// anything else, or failing to start it, means it failed.
	Command []string
	// SyncTimeout bounds the wait for Sync. Default DefaultSyncTimeout.
	SyncTimeout time.Duration
	// ForceAfter is measured from the moment the reboot (Command or
	// Restart) begins: if Reboot is still running then, it calls Force,
	// whether the reboot returned or still hangs. Default
	// DefaultForceAfter.
	ForceAfter time.Duration
	// Sync flushes the file systems. Default unix.Sync.
	Sync func()
	// Restart is the reboot used when Command is empty. It returns only if
	// the reboot did not happen. Default reboot(2) with
	// LINUX_REBOOT_CMD_RESTART, as Heartbeat's cl_reboot.
	Restart func() error
	// Force restarts the machine without delay. It returns only if it
	// could not. Default ForceSysrq(SysrqTrigger, reboot(2)).
	Force func() error
	// NoForce: never call Force; Reboot returns once the reboot (Command
	// or Restart) has returned. For test rigs whose nodes share one
	// kernel (heartbeatd --reboot-force-after 0), never for production.
	NoForce bool
	// Clock paces SyncTimeout and ForceAfter. Default clock.Real.
	Clock clock.Clock
	// Log receives each line, in Heartbeat's wording where it has one:
	//
	//	CRIT  Rebooting now: <Reason>
	//	WARN  sync did not finish within <SyncTimeout>; rebooting without it
	//	ERROR reboot command [argv]: <error>      (or: reboot: <error>)
	//	CRIT  Reboot failed: forcing it
	//	WARN  reboot command [argv] exited; forcing the reboot in <d> if still running
	//	CRIT  Still running <ForceAfter> after the reboot began: forcing it
	//	CRIT  ALL REBOOT OPTIONS FAILED: <error>
	//
	// The first three are the lines heartbeatd logged before this package
	// (cl_reboot's first reads "Rebooting system.  Reason: ..."); the last
	// is cl_reboot's own.
	Log func(level logging.Level, text string)
}

// Reboot takes the machine down: Sync (abandoned after SyncTimeout), then
// Command or Restart, then, if Reboot is still running ForceAfter after that
// began, Force. A reboot that fails outright (non-zero exit, cannot start,
// reboot(2) error) is forced at once instead of after ForceAfter. Reboot
// returns only if the machine did not go down: with an error when Force
// failed, nil when an injected Force returned nil. It blocks for at most
// SyncTimeout + ForceAfter plus however long Force takes; callers that must
// keep running meanwhile (keepalives) call it from a goroutine.
func Reboot(cfg Config) error {
	c := cfg.withDefaults()
	c.log(logging.Crit, "Rebooting now: "+c.Reason)

	synced := make(chan struct{})
	go func() {
		// Left behind if it hangs: the machine is going down anyway.
		c.Sync()
		close(synced)
	}()
	syncT := c.Clock.NewTimer(c.SyncTimeout)
	select {
	case <-synced:
		syncT.Stop()
	case <-syncT.C():
		c.log(logging.Warn, fmt.Sprintf("sync did not finish within %v; rebooting without it", c.SyncTimeout))
	}

	if c.NoForce {
		if err := c.reboot(); err != nil {
			c.log(logging.Error, err.Error())
			return fmt.Errorf("reboot: %w", err)
		}
		c.log(logging.Warn, "the reboot returned; not forcing it (forced reboot disabled)")
		return nil
	}
	began := c.Clock.Now()
	force := c.Clock.NewTimer(c.ForceAfter)
	defer force.Stop()
	rebooted := make(chan error, 1)
	go func() { rebooted <- c.reboot() }() // left behind if it hangs
	select {
	case err := <-rebooted:
		if err != nil {
			c.log(logging.Error, err.Error())
			c.log(logging.Crit, "Reboot failed: forcing it")
			break
		}
		if len(c.Command) > 0 {
			c.log(logging.Warn, fmt.Sprintf("reboot command %v exited; forcing the reboot in %v if still running",
				c.Command, c.ForceAfter-c.Clock.Since(began)))
		}
		<-force.C()
		c.log(logging.Crit, fmt.Sprintf("Still running %v after the reboot began: forcing it", c.ForceAfter))
	case <-force.C():
		c.log(logging.Crit, fmt.Sprintf("Still running %v after the reboot began: forcing it", c.ForceAfter))
	}

	if err := c.Force(); err != nil {
		c.log(logging.Crit, "ALL REBOOT OPTIONS FAILED: "+err.Error())
		return fmt.Errorf("reboot: %w", err)
	}
	return nil
}

// ForceSysrq returns a Force that writes 'b' to the SysRq trigger at path
// and, if we are still running after that (no SysRq in this kernel, no
// /proc, a read-only /proc in a container), calls fallback. The result
// returns only if both failed, or if fallback returned nil (a test's).
func ForceSysrq(path string, fallback func() error) func() error {
	return func() error {
		err := writeExisting(path, "b")
		if err == nil {
			// The kernel restarts inside the write; getting here means
			// the file was not the kernel's.
			err = fmt.Errorf("%s: wrote 'b', still running", path)
		}
		if ferr := fallback(); ferr != nil {
			return errors.Join(err, ferr)
		}
		return nil
	}
}

// writeExisting writes s to the file at path, never creating it: a missing
// /proc must not leave a stray file named sysrq-trigger.
func writeExisting(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// KernelRestart is reboot(2) with LINUX_REBOOT_CMD_RESTART, the default
// Restart and Force fallback. It returns only on failure.
func KernelRestart() error {
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART); err != nil {
		return err
	}
	return errors.New("reboot(2) returned without rebooting")
}

// config is Config with defaults filled in.
type config struct{ Config }

func (cfg Config) withDefaults() *config {
	c := &config{Config: cfg}
	if c.SyncTimeout <= 0 {
		c.SyncTimeout = DefaultSyncTimeout
	}
	if c.ForceAfter <= 0 {
		c.ForceAfter = DefaultForceAfter
	}
	if c.Sync == nil {
		c.Sync = unix.Sync
	}
	if c.Restart == nil {
		c.Restart = KernelRestart
	}
	if c.Force == nil {
		c.Force = ForceSysrq(SysrqTrigger, KernelRestart)
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	return c
}

// reboot runs Command or Restart; nil means it has done its part and the
// machine should be going down.
func (c *config) reboot() error {
	if len(c.Command) == 0 {
		if err := c.Restart(); err != nil {
			return fmt.Errorf("reboot: %w", err)
		}
		return nil
	}
	cmd := exec.Command(c.Command[0], c.Command[1:]...)
	cmd.Env = append(os.Environ(), EnvReason+"="+c.Reason)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("reboot command %v: %w", c.Command, err)
	}
	return nil
}

func (c *config) log(level logging.Level, text string) {
	if c.Log != nil {
		c.Log(level, text)
	}
}
