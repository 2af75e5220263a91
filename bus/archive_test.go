package bus_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/internal/testnats"
)

// entry is one tar entry of a hand-made archive.
type entry struct {
	name, link string
	typ        byte
	body       string
	size       int64 // header size when not len(body)
}

func makeTar(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		size := e.size
		if size == 0 && typ == tar.TypeReg {
			size = int64(len(e.body))
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Size: size, Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg && e.body != "" {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tree lists the files under dir with their contents or link targets.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		switch {
		case rel == ".":
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			got[rel] = "-> " + target
		case d.IsDir():
			got[rel+"/"] = ""
		default:
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			got[rel] = string(data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestUnpackRefusesMaliciousArchives(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		lim     bus.ArchiveLimits
		want    string
	}{
		{"absolute path", []entry{{name: "/evil", body: "x"}}, bus.ArchiveLimits{}, "not a relative path"},
		{"parent path", []entry{{name: "../evil", body: "x"}}, bus.ArchiveLimits{}, "not a relative path"},
		{"parent inside path", []entry{{name: "a/../../evil", body: "x"}}, bus.ArchiveLimits{}, "not a relative path"},
		{"absolute symlink", []entry{{name: "l", typ: tar.TypeSymlink, link: "/etc"}}, bus.ArchiveLimits{}, "leads out"},
		{"parent symlink", []entry{{name: "d/l", typ: tar.TypeSymlink, link: "../../outside"}}, bus.ArchiveLimits{}, "leads out"},
		{"write through a symlink", []entry{
			{name: "sub/", typ: tar.TypeDir},
			{name: "l", typ: tar.TypeSymlink, link: "sub"},
			{name: "l/x", body: "x"},
		}, bus.ArchiveLimits{}, "not a directory"},
		{"overwrite a symlink", []entry{
			{name: "target", body: "inside"},
			{name: "l", typ: tar.TypeSymlink, link: "target"},
			{name: "l", body: "x"},
		}, bus.ArchiveLimits{}, "file exists"},
		{"chain of links out", []entry{
			{name: "a", typ: tar.TypeSymlink, link: "."},
			{name: "l", typ: tar.TypeSymlink, link: "a/../outside"},
		}, bus.ArchiveLimits{}, "leads out"},
		{"dangling symlink", []entry{{name: "l", typ: tar.TypeSymlink, link: "nothing"}}, bus.ArchiveLimits{}, "leads nowhere"},
		{"hard link", []entry{{name: "f", body: "x"}, {name: "h", typ: tar.TypeLink, link: "f"}}, bus.ArchiveLimits{}, "only files"},
		{"device", []entry{{name: "dev", typ: tar.TypeChar}}, bus.ArchiveLimits{}, "only files"},
		{"fifo", []entry{{name: "p", typ: tar.TypeFifo}}, bus.ArchiveLimits{}, "only files"},
		{"too many bytes", []entry{{name: "a", body: "123456"}, {name: "b", body: "123456"}}, bus.ArchiveLimits{MaxBytes: 10}, "more than 10 bytes"},
		{"too many entries", []entry{{name: "a/", typ: tar.TypeDir}, {name: "b/", typ: tar.TypeDir}, {name: "c/", typ: tar.TypeDir}}, bus.ArchiveLimits{MaxEntries: 2}, "more than 2 entries"},
		{"truncated", nil, bus.ArchiveLimits{}, "archive ends inside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			// A directory beside it that escaping links could reach.
			dir := filepath.Join(parent, "ckpt", "job")
			for _, d := range []string{dir, filepath.Join(parent, "ckpt", "outside")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			data := makeTar(t, tt.entries...)
			if tt.entries == nil {
				data = makeTar(t, entry{name: "big", body: strings.Repeat("x", 2000)})[:1000]
			}
			err := bus.Unpack(bytes.NewReader(data), dir, tt.lim)
			if !errors.Is(err, bus.ErrBadArchive) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrBadArchive with %q", err, tt.want)
			}
			// Nothing was written beside the directory.
			for name := range tree(t, parent) {
				if name != "ckpt/" && name != "ckpt/outside/" && !strings.HasPrefix(name, "ckpt/job/") {
					t.Errorf("written outside the directory: %s", name)
				}
			}
		})
	}
}

// checkpointDir makes a directory such as a trainer leaves: nested files,
// an empty file, an empty directory, a symlink and a file of several
// object store chunks.
func checkpointDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i * 13)
	}
	files := map[string][]byte{"state.bin": big, "meta/epoch.json": []byte(`{"epoch": 3}`), "meta/empty": nil}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("meta/epoch.json", filepath.Join(dir, "latest")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPutDirGetDirRoundTrip(t *testing.T) {
	srv := testnats.Start(t)
	c := testnats.Connect(t, srv, "t")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src := checkpointDir(t)
	ref, err := c.PutDir(ctx, "gahpo-ckpt", "r1-7-e3", src)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Bucket != "gahpo-ckpt" || ref.Name != "r1-7-e3" || !strings.HasPrefix(ref.Digest, "SHA-256=") || ref.Size < 3<<20 {
		t.Fatalf("ref = %+v", ref)
	}
	// The same directory gives the same archive.
	again, err := c.PutDir(ctx, "gahpo-ckpt", "r1-7-e3-again", src)
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != ref.Digest || again.Size != ref.Size {
		t.Errorf("second archive %+v differs from %+v", again, ref)
	}
	dst := t.TempDir()
	if err := c.GetDir(ctx, ref, dst); err != nil {
		t.Fatal(err)
	}
	want, got := tree(t, src), tree(t, dst)
	if len(got) != len(want) {
		t.Errorf("restored %d entries, want %d", len(got), len(want))
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s: restored %d bytes (present %v), want %d", name, len(g), ok, len(w))
		}
	}
	if info, err := os.Stat(filepath.Join(dst, "meta", "epoch.json")); err != nil || info.Mode().Perm() != 0o640 {
		t.Errorf("mode of a restored file: %v, %v; want 0640", info, err)
	}

	// A reference whose digest is not the object's is refused before any
	// file is written.
	bad := ref
	bad.Digest = bus.Digest([]byte("another checkpoint"))
	empty := t.TempDir()
	if err := c.GetDir(ctx, bad, empty); !errors.Is(err, bus.ErrBadArchive) {
		t.Errorf("wrong digest: err = %v, want ErrBadArchive", err)
	}
	if got := tree(t, empty); len(got) != 0 {
		t.Errorf("wrong digest: files written: %v", got)
	}
	// An archive over the limits is refused from its size.
	if err := c.GetDirLimits(ctx, ref, t.TempDir(), bus.ArchiveLimits{MaxBytes: 1 << 20, MaxEntries: 10}); !errors.Is(err, bus.ErrBadArchive) {
		t.Errorf("over the size limit: err = %v, want ErrBadArchive", err)
	}

	// Deleted, it is gone; deleting again, or in a missing bucket, is fine.
	if err := c.DeleteObject(ctx, ref.Bucket, ref.Name); err != nil {
		t.Fatal(err)
	}
	if err := c.GetDir(ctx, ref, t.TempDir()); err == nil {
		t.Error("GetDir of a deleted checkpoint: no error")
	}
	for _, o := range []gahpo.ObjectRef{ref, {Bucket: "gahpo-none", Name: "x"}} {
		if err := c.DeleteObject(ctx, o.Bucket, o.Name); err != nil {
			t.Errorf("DeleteObject(%s, %s) = %v, want nil", o.Bucket, o.Name, err)
		}
	}
}

// A malicious archive put in the object store by anyone who can publish is
// refused by GetDir, and nothing lands outside the directory.
func TestGetDirRefusesMaliciousObject(t *testing.T) {
	srv := testnats.Start(t)
	c := testnats.Connect(t, srv, "t")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data := makeTar(t, entry{name: "ok", body: "fine"}, entry{name: "../../escaped", body: "pwned"})
	dref, err := c.PutBytes(ctx, "gahpo-ckpt", "evil", data)
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	dir := filepath.Join(parent, "a", "b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ref := gahpo.ObjectRef(dref)
	if err := c.GetDir(ctx, ref, dir); !errors.Is(err, bus.ErrBadArchive) {
		t.Fatalf("err = %v, want ErrBadArchive", err)
	}
	if _, err := os.Stat(filepath.Join(parent, "escaped")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the archive wrote outside its directory: %v", err)
	}
}

// failingReader reads n bytes of r, then fails with err.
type failingReader struct {
	r   io.Reader
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	k, err := f.r.Read(p[:min(len(p), f.n)])
	f.n -= k
	return k, err
}

// A source that fails to read (an object store's timeout) is an error
// worth another try, never ErrBadArchive, wherever the archive is cut; a
// source that ends early is a truncated archive, refused.
func TestUnpackToldSourceFailureFromBadArchive(t *testing.T) {
	src := t.TempDir()
	for i, name := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(src, name), bytes.Repeat([]byte{byte(i)}, 4096), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := bus.Pack(&buf, src); err != nil {
		t.Fatal(err)
	}
	timeout := errors.New("nats: timeout")
	for _, tc := range []struct {
		name string
		cut  int
		err  error // what the source says after cut bytes
		bad  bool  // ErrBadArchive
	}{
		{"timeout before the first header", 0, timeout, false},
		{"timeout inside a header", 100, timeout, false},
		{"timeout at the second header", 512 + 4096, timeout, false},
		{"timeout inside a file", 700, timeout, false},
		{"the source ends inside a header", 100, io.EOF, true},
		{"the source ends inside a file", 700, io.EOF, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := bus.Unpack(&failingReader{r: bytes.NewReader(buf.Bytes()), n: tc.cut, err: tc.err}, t.TempDir(), bus.ArchiveLimits{})
			if err == nil {
				t.Fatal("unpacked a cut archive")
			}
			if got := errors.Is(err, bus.ErrBadArchive); got != tc.bad {
				t.Errorf("ErrBadArchive %v, want %v: %v", got, tc.bad, err)
			}
			if !tc.bad && !errors.Is(err, timeout) {
				t.Errorf("the source's error is lost: %v", err)
			}
		})
	}
}

// TestPackSymlinks: a checkpoint's links to its own files survive a trip
// to another directory, an absolute one too (made relative when packed); a
// link that leads out is refused when packed, not when another worker
// restores it.
func TestPackSymlinks(t *testing.T) {
	tests := []struct {
		name    string
		link    string                  // the link's name inside the directory
		target  func(dir string) string // its target
		relDir  bool                    // Pack is given the directory relative to the working one
		wantErr string
	}{
		{name: "relative", link: "latest", target: func(string) string { return "sub/state" }},
		{name: "absolute inside", link: "latest", target: func(dir string) string { return filepath.Join(dir, "sub", "state") }},
		{name: "absolute inside, from a subdirectory", link: "other/latest", target: func(dir string) string { return filepath.Join(dir, "sub", "state") }},
		{name: "absolute outside", link: "latest", target: func(string) string { return "/etc/hostname" }, wantErr: `latest: symlink to "/etc/hostname" leads out of the directory`},
		{name: "relative outside", link: "other/up", target: func(string) string { return "../../x" }, wantErr: `other/up: symlink to "../../x" leads out`},
		{name: "dangling", link: "latest", target: func(string) string { return "sub/ckpt-3" }, wantErr: `latest: symlink to "sub/ckpt-3" leads nowhere`},
		{name: "out through another link", link: "esc", target: func(string) string { return "here/../secret" }, wantErr: `esc: symlink to "here/../secret" leads out`},
		{name: "absolute inside, the directory named relatively", link: "latest", target: func(dir string) string { return filepath.Join(dir, "sub", "state") }, relDir: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, d := range []string{"sub", "other"} {
				if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "sub", "state"), []byte("epoch 3"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(".", filepath.Join(dir, "here")); err != nil { // a link to the directory itself
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "secret"), []byte("not the checkpoint's"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(tt.target(dir), filepath.Join(dir, filepath.FromSlash(tt.link))); err != nil {
				t.Fatal(err)
			}
			packDir := dir
			if tt.relDir {
				wd, err := os.Getwd()
				if err != nil {
					t.Fatal(err)
				}
				if packDir, err = filepath.Rel(wd, dir); err != nil {
					t.Fatal(err)
				}
			}
			var buf bytes.Buffer
			err := bus.Pack(&buf, packDir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Pack: %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			dst := t.TempDir()
			if err := bus.Unpack(&buf, dst, bus.DefaultArchiveLimits); err != nil {
				t.Fatalf("Unpack: %v", err)
			}
			b, err := os.ReadFile(filepath.Join(dst, filepath.FromSlash(tt.link)))
			if err != nil || string(b) != "epoch 3" {
				t.Errorf("through the restored link: %q, %v", b, err)
			}
		})
	}
}

// TestPackLimits: a directory beyond what Unpack takes back is refused when
// it is packed, saying why, not one rung later when a promotion restores
// it (TestWorkerPutBeyondLimitsSendsNothing: PutDir's part).
func TestPackLimits(t *testing.T) {
	dir := t.TempDir()
	for i, size := range []int{100, 200, 300} {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		lim  bus.ArchiveLimits
		want string // "": packed
	}{
		{"within", bus.ArchiveLimits{MaxBytes: 600, MaxEntries: 4}, ""},
		{"an entry too many", bus.ArchiveLimits{MaxBytes: 600, MaxEntries: 3}, "more than 3 entries"},
		{"a byte too many", bus.ArchiveLimits{MaxBytes: 599, MaxEntries: 4}, "more than 599 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := bus.PackLimits(io.Discard, dir, tt.lim)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("PackLimits: %v", err)
			case tt.want != "" && (!errors.Is(err, bus.ErrBadArchive) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("PackLimits: %v; want ErrBadArchive saying %q", err, tt.want)
			}
		})
	}
}
