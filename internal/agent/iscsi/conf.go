package iscsi

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// maxIncludeDepth stops include loops (a conf.d file including its own
// directory).
const maxIncludeDepth = 8

// TgtConfTargets returns the target names a tgt targets.conf defines
// (`<target NAME>` blocks), following `include PATTERN` lines the way
// tgt-admin's Config::General does (globs; a directory includes its
// files). Relative include paths are taken from the including file's
// directory. The names are what iscsitarget stops and checks: tgt-admin
// itself has no "delete what this file defines".
func TgtConfTargets(path string) ([]string, error) {
	var names []string
	err := tgtConfWalk(path, 0, &names)
	return names, err
}

func tgtConfWalk(path string, depth int, names *[]string) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("%s: includes nested deeper than %d (an include loop?)", path, maxIncludeDepth)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return parseTgtConf(path, string(data), depth, names)
}

func parseTgtConf(path, text string, depth int, names *[]string) error {
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lower := strings.ToLower(line)
		switch {
		case strings.HasPrefix(lower, "<target") && len(line) > 7 && strings.ContainsRune(" \t>", rune(line[7])):
			name, ok := strings.CutSuffix(strings.TrimSpace(line[7:]), ">")
			name = strings.Trim(strings.TrimSpace(name), `"`)
			if !ok || name == "" || strings.ContainsAny(name, " \t<>") {
				return fmt.Errorf("%s:%d: bad target line %q: want <target NAME>", path, i+1, line)
			}
			*names = append(*names, name)
		case strings.HasPrefix(lower, "include ") || strings.HasPrefix(lower, "include\t"):
			pat := strings.Trim(strings.TrimSpace(line[len("include"):]), `"`)
			if !filepath.IsAbs(pat) {
				pat = filepath.Join(filepath.Dir(path), pat)
			}
			files, err := expandInclude(pat)
			if err != nil {
				return fmt.Errorf("%s:%d: include %q: %w", path, i+1, pat, err)
			}
			for _, f := range files {
				if err := tgtConfWalk(f, depth+1, names); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// expandInclude turns an include pattern into files: a glob matching
// nothing includes nothing (Debian's default `include
// /etc/tgt/conf.d/*.conf` with an empty conf.d), a directory its files.
func expandInclude(pat string) ([]string, error) {
	matches, err := filepath.Glob(pat)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, m)
			continue
		}
		ents, err := os.ReadDir(m)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if !e.IsDir() {
				files = append(files, filepath.Join(m, e.Name()))
			}
		}
	}
	sort.Strings(files)
	return files, nil
}

// IetConfTargets returns the target names of an ietd.conf (`Target NAME`
// lines; the keyword is case-insensitive, as ietd's parser reads it).
func IetConfTargets(path, text string) ([]string, error) {
	var names []string
	for i, raw := range strings.Split(text, "\n") {
		f := strings.Fields(raw)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") || !strings.EqualFold(f[0], "Target") {
			continue
		}
		if len(f) != 2 || !validIQN(f[1]) {
			return nil, fmt.Errorf("%s:%d: bad Target line %q: want `Target iqn.YYYY-MM.domain:name`", path, i+1, strings.TrimSpace(raw))
		}
		names = append(names, f[1])
	}
	return names, nil
}
