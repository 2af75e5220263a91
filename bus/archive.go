package bus

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gahpo/gahpo"
)

// ErrBadArchive is returned (wrapped) by PutDir and PackLimits for a
// directory beyond the archive limits, and by GetDir and Unpack for an
// archive that must not be unpacked: an absolute path, a path with "..", a symlink
// that leads out of the directory, a hard link or special file, more bytes
// or entries than the limits allow, or a digest that differs from the
// reference. Every worker would refuse it the same way.
var ErrBadArchive = errors.New("bus: bad archive")

// ArchiveLimits bound what Unpack writes.
type ArchiveLimits struct {
	// MaxBytes bounds the sum of the regular files' sizes (0: DefaultArchiveLimits).
	MaxBytes int64
	// MaxEntries bounds the number of entries (0: DefaultArchiveLimits).
	MaxEntries int
}

// DefaultArchiveLimits are the limits of GetDir: 16 GiB in 100,000 entries,
// far above a CNN's checkpoint (~15 MB) and within a large model's.
var DefaultArchiveLimits = ArchiveLimits{MaxBytes: 16 << 30, MaxEntries: 100_000}

func (l ArchiveLimits) orDefault() ArchiveLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultArchiveLimits.MaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultArchiveLimits.MaxEntries
	}
	return l
}

// archiveTime is every entry's modification time, so that the same
// directory always gives the same archive (and digest).
var archiveTime = time.Unix(0, 0).UTC()

// Pack writes dir's regular files, directories and symlinks to w as an
// uncompressed tar archive, in lexical order, with names relative to dir
// and no owners or times. A symlink must lead to a place inside dir (an
// absolute one is made relative); any other kind of file, or a link that
// leads out, is an error.
func Pack(w io.Writer, dir string) error {
	return PackLimits(w, dir, DefaultArchiveLimits)
}

// PackLimits is Pack within lim: a directory of more entries or bytes (in
// its regular files) than Unpack would take is refused with ErrBadArchive
// instead of being archived for nothing.
func PackLimits(w io.Writer, dir string, lim ArchiveLimits) error {
	tw := tar.NewWriter(w)
	count := tally{lim: lim.orDefault()}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := count.add(info); err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: int64(info.Mode().Perm()), ModTime: archiveTime, Format: tar.FormatPAX}
		switch {
		case info.Mode().IsRegular():
			hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
		case info.IsDir():
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := localLink(dir, rel, path)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, filepath.ToSlash(target)
		default:
			return fmt.Errorf("%w: %s: cannot archive a %v", ErrBadArchive, rel, info.Mode().Type())
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		// A file that grows while it is archived is cut at its size.
		if _, err := io.Copy(tw, io.LimitReader(f, hdr.Size)); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bus: archive %s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("bus: archive %s: %w", dir, err)
	}
	return nil
}

// tally counts a directory's entries and the bytes of its regular files
// against lim.
type tally struct {
	lim     ArchiveLimits
	entries int
	bytes   int64
}

// add counts info's file, and fails with ErrBadArchive past the limits.
func (c *tally) add(info fs.FileInfo) error {
	if c.entries++; c.entries > c.lim.MaxEntries {
		return fmt.Errorf("%w: more than %d entries (files, directories and links): a checkpoint directory holds what a training needs to go on, no more", ErrBadArchive, c.lim.MaxEntries)
	}
	if info.Mode().IsRegular() {
		if c.bytes += info.Size(); c.bytes > c.lim.MaxBytes {
			return fmt.Errorf("%w: more than %d bytes in its files: a checkpoint directory holds what a training needs to go on, no more", ErrBadArchive, c.lim.MaxBytes)
		}
	}
	return nil
}

// within tells whether dir is within lim, from its files' sizes alone (no
// content is read); the error says why not.
func within(dir string, lim ArchiveLimits) error {
	count := tally{lim: lim.orDefault()}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return count.add(info)
	})
	if err != nil {
		return fmt.Errorf("bus: archive %s: %w", dir, err)
	}
	return nil
}

// localLink returns the target of the symlink at path (rel inside dir)
// as Unpack accepts it: relative, leading to something inside dir. An
// absolute target inside dir (a trainer's "latest -> $GAHPO_CHECKPOINT_DIR/
// ckpt-3") is made relative, since dir is elsewhere when the archive is
// unpacked; a link that leads out of dir, through other links too, or to
// nothing is refused here, when the directory is saved, rather than when
// another worker restores it.
func localLink(dir, rel, path string) (string, error) {
	target, err := os.Readlink(path)
	if err != nil {
		return "", err
	}
	out := func(why string) error {
		return fmt.Errorf("%w: %s: symlink to %q %s (a checkpoint may link only to its own files)", ErrBadArchive, rel, target, why)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	realDir, err := filepath.EvalSymlinks(absDir)
	if err != nil {
		return "", err
	}
	link := target
	if filepath.IsAbs(target) {
		in := ""
		for _, base := range []string{absDir, realDir} { // the trainer may have resolved the path
			if r, err := filepath.Rel(base, target); err == nil && filepath.IsLocal(r) {
				in = r
				break
			}
		}
		if in == "" {
			return "", out("leads out of the directory")
		}
		if link, err = filepath.Rel(filepath.Dir(filepath.Join(absDir, rel)), filepath.Join(absDir, in)); err != nil {
			return "", err
		}
	}
	if !filepath.IsLocal(filepath.Join(filepath.Dir(rel), link)) {
		return "", out("leads out of the directory")
	}
	// Where it leads on disk, through any other links: Unpack's rule.
	resolved, err := filepath.EvalSymlinks(filepath.Join(absDir, rel))
	if err != nil {
		return "", out("leads nowhere")
	}
	if r, err := filepath.Rel(realDir, resolved); err != nil || !filepath.IsLocal(r) {
		return "", out("leads out of the directory")
	}
	return link, nil
}

// Unpack extracts a tar archive made by Pack into dir, which must exist.
// It refuses (ErrBadArchive) absolute names, names with "..", symlinks
// whose target is absolute, leads out of dir or leads nowhere, hard links,
// devices and other special files, and archives over the limits; every
// write goes through an os.Root on dir, so nothing is written outside dir
// whatever the archive holds. On error dir may hold part of the archive.
func Unpack(r io.Reader, dir string, lim ArchiveLimits) error {
	lim = lim.orDefault()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("bus: unpack: %w", err)
	}
	defer root.Close()
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("%w: %q: %s", ErrBadArchive, name, fmt.Sprintf(format, args...))
	}
	src := &sourceReader{r: r}
	tr := tar.NewReader(src)
	var total int64
	var links []string
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if src.err != nil { // the source failed (a timeout), not the archive
			return fmt.Errorf("bus: unpack: read: %w", src.err)
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadArchive, err)
		}
		if n >= lim.MaxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrBadArchive, lim.MaxEntries)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if strings.HasPrefix(hdr.Name, "/") || !filepath.IsLocal(filepath.FromSlash(name)) || strings.Contains(name, `\`) {
			return bad(hdr.Name, "not a relative path inside the directory")
		}
		name = filepath.FromSlash(name)
		perm := fs.FileMode(hdr.Mode).Perm()
		if parent := filepath.Dir(name); parent != "." {
			if err := realDirs(root, parent); err != nil {
				return bad(hdr.Name, "%v", err)
			}
			if err := root.MkdirAll(parent, 0o755); err != nil {
				return fmt.Errorf("bus: unpack %s: %w", hdr.Name, err)
			}
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return fmt.Errorf("bus: unpack %s: %w", hdr.Name, err)
			}
		case tar.TypeReg:
			if hdr.Size < 0 || hdr.Size > lim.MaxBytes-total {
				return fmt.Errorf("%w: more than %d bytes", ErrBadArchive, lim.MaxBytes)
			}
			total += hdr.Size
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm|0o600)
			if err != nil {
				return bad(hdr.Name, "%v", err)
			}
			_, err = io.Copy(f, io.LimitReader(tr, hdr.Size))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return bad(hdr.Name, "archive ends inside the file")
			}
			if err != nil {
				return fmt.Errorf("bus: unpack %s: %w", hdr.Name, err)
			}
		case tar.TypeSymlink:
			t := hdr.Linkname
			if t == "" || filepath.IsAbs(t) || !filepath.IsLocal(filepath.Join(filepath.Dir(name), filepath.FromSlash(t))) {
				return bad(hdr.Name, "symlink to %q leads out of the directory", t)
			}
			if err := root.Symlink(filepath.FromSlash(t), name); err != nil {
				return bad(hdr.Name, "%v", err)
			}
			links = append(links, name)
		default:
			return bad(hdr.Name, "entry of type %q (only files, directories and symlinks)", hdr.Typeflag)
		}
	}
	return checkLinks(dir, links)
}

// sourceReader keeps the error of the reader under an archive, other than
// its end, so that a failed read (an object store's timeout, worth another
// try) is told from a malformed archive (refused for good).
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// realDirs refuses a path whose existing components include a symlink:
// an entry is never written through a link the archive made.
func realDirs(root *os.Root, path string) error {
	for p := path; p != "." && p != string(filepath.Separator); p = filepath.Dir(p) {
		info, err := root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if !info.IsDir() {
			return fmt.Errorf("%s is not a directory", p)
		}
	}
	return nil
}

// checkLinks resolves every symlink unpacked into dir as the system would
// and refuses one that leads out of dir or nowhere (a chain of links can
// escape where each link alone looks local).
func checkLinks(dir string, links []string) error {
	if len(links) == 0 {
		return nil
	}
	base, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("bus: unpack: %w", err)
	}
	for _, l := range links {
		real, err := filepath.EvalSymlinks(filepath.Join(dir, l))
		if err != nil {
			return fmt.Errorf("%w: %q: symlink leads nowhere: %w", ErrBadArchive, filepath.ToSlash(l), err)
		}
		rel, err := filepath.Rel(base, real)
		if err != nil || !filepath.IsLocal(rel) {
			return fmt.Errorf("%w: %q: symlink leads out of the directory (to %s)", ErrBadArchive, filepath.ToSlash(l), real)
		}
	}
	return nil
}

// PutDir archives dir (see Pack) into the object store as bucket/name,
// replacing an object of that name, and returns its reference with the
// digest and size the server confirmed. A directory beyond
// DefaultArchiveLimits, which no GetDir would take back, is refused with
// ErrBadArchive before anything is sent.
func (c *Conn) PutDir(ctx context.Context, bucket, name, dir string) (gahpo.ObjectRef, error) {
	if err := within(dir, DefaultArchiveLimits); err != nil {
		return gahpo.ObjectRef{}, err
	}
	obs, err := c.objectStore(ctx, bucket)
	if err != nil {
		return gahpo.ObjectRef{}, err
	}
	pr, pw := io.Pipe()
	h := sha256.New()
	packed := make(chan struct{})
	go func() {
		defer close(packed)
		pw.CloseWithError(Pack(io.MultiWriter(pw, h), dir))
	}()
	info, err := obs.Put(ctx, jetstream.ObjectMeta{Name: name, Description: "gahpo checkpoint directory (tar)"}, pr)
	pr.CloseWithError(errors.New("bus: put ended")) // ends Pack if Put stopped early
	<-packed
	if err != nil {
		return gahpo.ObjectRef{}, fmt.Errorf("bus: put %s/%s: %w", bucket, name, err)
	}
	want := "SHA-256=" + base64.URLEncoding.EncodeToString(h.Sum(nil))
	if info.Digest != want {
		return gahpo.ObjectRef{}, fmt.Errorf("bus: put %s/%s: server digest %s, want %s", bucket, name, info.Digest, want)
	}
	return gahpo.ObjectRef{Bucket: bucket, Name: name, Digest: info.Digest, Size: info.Size}, nil
}

// GetDir unpacks the archive ref (made by PutDir) into dir, which must
// exist, within DefaultArchiveLimits. The object's digest must be ref's
// (when ref has one); see Unpack for what is refused.
func (c *Conn) GetDir(ctx context.Context, ref gahpo.ObjectRef, dir string) error {
	return c.GetDirLimits(ctx, ref, dir, DefaultArchiveLimits)
}

// GetDirLimits is GetDir with other limits.
func (c *Conn) GetDirLimits(ctx context.Context, ref gahpo.ObjectRef, dir string, lim ArchiveLimits) error {
	lim = lim.orDefault()
	obj, err := c.openObject(ctx, ref.Bucket, ref.Name)
	if err != nil {
		return fmt.Errorf("bus: get %s/%s: %w", ref.Bucket, ref.Name, err)
	}
	defer obj.Close()
	info := obj.info
	if ref.Digest != "" && info.Digest != ref.Digest {
		return fmt.Errorf("%w: %s/%s: digest %s, want %s", ErrBadArchive, ref.Bucket, ref.Name, info.Digest, ref.Digest)
	}
	// Tar headers and padding add at most 1.5 KiB an entry.
	if info.Size > uint64(lim.MaxBytes)+uint64(lim.MaxEntries)*1536+1024 {
		return fmt.Errorf("%w: %s/%s: %d bytes, limit %d", ErrBadArchive, ref.Bucket, ref.Name, info.Size, lim.MaxBytes)
	}
	if err := Unpack(obj, dir, lim); err != nil {
		return fmt.Errorf("bus: get %s/%s: %w", ref.Bucket, ref.Name, err)
	}
	// Read to the end: the reader checks the bytes against the meta's
	// digest there (jetstream.ErrDigestMismatch).
	if _, err := io.Copy(io.Discard, obj); err != nil {
		return fmt.Errorf("bus: get %s/%s: %w", ref.Bucket, ref.Name, err)
	}
	return nil
}

// DeleteObject removes bucket/name from the object store; an object or
// bucket that is not there is no error.
func (c *Conn) DeleteObject(ctx context.Context, bucket, name string) error {
	obs, err := c.js.ObjectStore(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bus: object store %s: %w", bucket, err)
	}
	if err := obs.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("bus: delete %s/%s: %w", bucket, name, err)
	}
	return nil
}
