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
	"github.com/qthr/qthr/bindings/go/internal/prebuilt/linux_arm64"
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

// prebuilt is what one platform's package records about its archive.
type prebuilt struct {
	plat, version, inputs, archive, header string
}

var prebuilts = []prebuilt{
	{"linux_amd64", linux_amd64.Version, linux_amd64.InputsSHA256, linux_amd64.ArchiveSHA256, linux_amd64.HeaderSHA256},
	{"linux_arm64", linux_arm64.Version, linux_arm64.InputsSHA256, linux_arm64.ArchiveSHA256, linux_arm64.HeaderSHA256},
}

// TestPrebuiltMatchesSources checks that what the module carries (each
// platform's archive, linked by default there, and the header copy it compiles
// against) was made from the sources of this checkout.
func TestPrebuiltMatchesSources(t *testing.T) {
	root := repoRoot(t)
	pre := filepath.Join(root, "bindings/go/internal/prebuilt")
	stale := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s\nthe prebuilt archives or header copy are stale: regenerate them with\n\n    %s\n\nand commit bindings/go/internal/prebuilt",
			fmt.Sprintf(format, args...), regenerate)
	}

	// The header copy, byte for byte.
	if !bytes.Equal(mustRead(t, filepath.Join(root, "include/qthr.h")), mustRead(t, filepath.Join(pre, "include/qthr.h"))) {
		stale("bindings/go/internal/prebuilt/include/qthr.h differs from include/qthr.h")
	}
	header := sha256File(t, filepath.Join(pre, "include/qthr.h"))
	current := currentInputs(t, root)
	m := regexp.MustCompile(`(?m)^version = "([^"]+)"`).FindSubmatch(mustRead(t, filepath.Join(root, "Cargo.toml")))
	if m == nil {
		t.Fatal("no version in Cargo.toml")
	}

	for _, p := range prebuilts {
		if header != p.header {
			stale("%s: the header copy's sha256 %s is not the recorded %s", p.plat, header, p.header)
		}
		// The archive is the one recorded.
		if got := sha256File(t, filepath.Join(pre, p.plat, "libqthr.a")); got != p.archive {
			stale("%s: libqthr.a's sha256 %s is not the recorded %s", p.plat, got, p.archive)
		}
		// The recorded inputs are today's sources.
		recorded := mustRead(t, filepath.Join(pre, p.plat, "inputs.txt"))
		if s := sha256.Sum256(recorded); hex.EncodeToString(s[:]) != p.inputs {
			stale("%s: inputs.txt does not match the recorded InputsSHA256", p.plat)
		}
		if changed := changedInputs(t, string(recorded), current); len(changed) > 0 {
			stale("%s: the core changed since the archive was built: %s", p.plat, strings.Join(changed, ", "))
		}
		if string(m[1]) != p.version {
			stale("%s: Cargo.toml's version %s is not the recorded %s", p.plat, m[1], p.version)
		}
	}
	// The library linked here reports the version its archive was recorded with.
	if got := qthr.LibraryVersion(); got != string(m[1]) {
		stale("the linked library reports version %s, Cargo.toml says %s", got, m[1])
	}
}

// currentInputs maps each of the core's source files to its sha256.
func currentInputs(t *testing.T, root string) map[string]string {
	sums := map[string]string{}
	for _, f := range coreInputs(t, root) {
		sums[f] = sha256File(t, filepath.Join(root, f))
	}
	return sums
}

// changedInputs lists the files whose recorded sha256 (an inputs.txt) differs
// from the current one, or that were added or removed since.
func changedInputs(t *testing.T, recorded string, current map[string]string) []string {
	t.Helper()
	was := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(recorded, "\n"), "\n") {
		sum, path, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("bad inputs.txt line %q", line)
		}
		was[path] = sum
	}
	var changed []string
	for f, sum := range current {
		switch old, ok := was[f]; {
		case !ok:
			changed = append(changed, f+" (new)")
		case old != sum:
			changed = append(changed, f)
		}
	}
	for f := range was {
		if _, ok := current[f]; !ok {
			changed = append(changed, f+" (removed)")
		}
	}
	sort.Strings(changed)
	return changed
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
