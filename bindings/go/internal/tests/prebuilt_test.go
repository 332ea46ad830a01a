package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	qthr "github.com/qthr/qthr/bindings/go"
	"github.com/qthr/qthr/bindings/go/internal/prebuilt/linux_amd64"
)

const regenerate = "bash bindings/go/update-prebuilt.sh"

// repoRoot is the checkout the module sits in; the test is skipped in a copy
// of the module without it, unless QTHR_GO_REQUIRE_REPO is set (run_tests.sh).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "src")); err != nil {
		if os.Getenv("QTHR_GO_REQUIRE_REPO") != "" {
			t.Fatalf("no qthr checkout around the module (%s): %v", root, err)
		}
		t.Skip("not inside a qthr checkout")
	}
	return root
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// coreInputs lists the core's source files as update-prebuilt.sh does (inputs()).
func coreInputs(t *testing.T, root string) []string {
	var files []string
	err := filepath.WalkDir(filepath.Join(root, "src"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "Cargo.toml", "Cargo.lock", "include/qthr.h")
	sort.Strings(files) // byte order, as LC_ALL=C sort
	return files
}

// TestPrebuiltMatchesSources checks that what the module carries (the archive
// it links by default and the header copy it compiles against) was made from
// the sources of this checkout.
func TestPrebuiltMatchesSources(t *testing.T) {
	root := repoRoot(t)
	pre := filepath.Join(root, "bindings/go/internal/prebuilt")
	stale := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s\nthe prebuilt archive or header copy is stale: regenerate it with\n\n    %s\n\nand commit bindings/go/internal/prebuilt",
			fmt.Sprintf(format, args...), regenerate)
	}

	// The header copy, byte for byte.
	hdr, err := os.ReadFile(filepath.Join(root, "include/qthr.h"))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := os.ReadFile(filepath.Join(pre, "include/qthr.h"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hdr, cp) {
		stale("bindings/go/internal/prebuilt/include/qthr.h differs from include/qthr.h")
	}
	if got := sha256File(t, filepath.Join(pre, "include/qthr.h")); got != linux_amd64.HeaderSHA256 {
		stale("the header copy's sha256 %s is not the recorded %s", got, linux_amd64.HeaderSHA256)
	}

	// The archive is the one recorded.
	if got := sha256File(t, filepath.Join(pre, "linux_amd64/libqthr.a")); got != linux_amd64.ArchiveSHA256 {
		stale("libqthr.a's sha256 %s is not the recorded %s", got, linux_amd64.ArchiveSHA256)
	}

	// The recorded inputs are today's sources.
	recorded, err := os.ReadFile(filepath.Join(pre, "linux_amd64/inputs.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if s := sha256.Sum256(recorded); hex.EncodeToString(s[:]) != linux_amd64.InputsSHA256 {
		stale("inputs.txt does not match the recorded InputsSHA256")
	}
	was := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(recorded), "\n"), "\n") {
		sum, path, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("bad inputs.txt line %q", line)
		}
		was[path] = sum
	}
	var changed []string
	var current strings.Builder
	for _, f := range coreInputs(t, root) {
		sum := sha256File(t, filepath.Join(root, f))
		fmt.Fprintf(&current, "%s  %s\n", sum, f)
		switch old, ok := was[f]; {
		case !ok:
			changed = append(changed, f+" (new)")
		case old != sum:
			changed = append(changed, f)
		}
		delete(was, f)
	}
	for f := range was {
		changed = append(changed, f+" (removed)")
	}
	sort.Strings(changed)
	if len(changed) > 0 || current.String() != string(recorded) {
		stale("the core changed since the archive was built: %s", strings.Join(changed, ", "))
	}

	// The version recorded, the header's and the linked library's agree.
	m := regexp.MustCompile(`(?m)^version = "([^"]+)"`).FindSubmatch(mustRead(t, filepath.Join(root, "Cargo.toml")))
	if m == nil || string(m[1]) != linux_amd64.Version {
		stale("Cargo.toml's version is not the recorded %s", linux_amd64.Version)
	}
	if got := qthr.LibraryVersion(); got != linux_amd64.Version {
		stale("the linked library reports version %s, the archive was recorded as %s", got, linux_amd64.Version)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
