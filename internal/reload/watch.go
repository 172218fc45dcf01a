package reload

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"heartbeatd/internal/clock"
)

// Debounce: editors write a file in several steps (truncate, write,
// rename, chmod); one reload after the burst, not one per step.
const Debounce = 500 * time.Millisecond

// watchedFiles are the files whose change triggers a reload.
var watchedFiles = map[string]bool{"ha.cf": true, "authkeys": true, "haresources": true}

// Watch calls changed, on a goroutine of its own, Debounce after the last
// change to ha.cf, authkeys or haresources in confdir, until ctx ends. It
// watches the DIRECTORY, not the files: editors and config management
// replace a file by renaming a new one over it, which a watch on the file
// itself would lose. warn gets the watcher's errors.
func Watch(ctx context.Context, confdir string, clk clock.Clock, changed func(), warn func(error)) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("cannot watch %s for changes: %w", confdir, err)
	}
	if err := w.Add(confdir); err != nil {
		w.Close()
		return fmt.Errorf("cannot watch %s for changes: %w", confdir, err)
	}
	go func() {
		defer w.Close()
		var fire <-chan time.Time
		var timer clock.Timer
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if !watchedFiles[filepath.Base(ev.Name)] {
					continue
				}
				if timer != nil {
					timer.Stop()
				}
				timer = clk.NewTimer(Debounce)
				fire = timer.C()
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				warn(fmt.Errorf("watching %s: %w", confdir, err))
			case <-fire:
				fire = nil
				changed()
			}
		}
	}()
	return nil
}
