package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sync/errgroup"

	"github.com/pgkeep/pgkeep/repo"
)

// writer writes a backup's files into a layout.
type writer struct {
	r       *repo.Repo
	cluster string
	l       *layout
	delta   bool
	own     owner
	log     *slog.Logger
	skip    map[string]bool // files of the backup written by other steps
	keep    map[string]bool // files not in the backup that delta must not remove

	noDirect atomic.Bool // the file system refused O_DIRECT: buffered writes only

	mu    sync.Mutex
	stats Stats
}

// Stats count what a restore wrote.
type Stats struct {
	Files          int   `json:"files"`
	Bytes          int64 `json:"bytes"`
	Rewritten      int   `json:"rewritten-files"` // files created or changed
	RewrittenBytes int64 `json:"rewritten-bytes"` // bytes fetched from the repository and written
	Kept           int   `json:"kept-files"`      // delta: files already right
	KeptBytes      int64 `json:"kept-bytes"`
	Removed        int   `json:"removed"` // delta: files and directories not in the backup
}

func (w *writer) count(f repo.File, written int64, changed bool) {
	if changed && w.delta {
		w.log.Debug("delta: rewrote", "file", f.Path, "bytes", written)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stats.Files++
	w.stats.Bytes += f.Size
	if changed {
		w.stats.Rewritten++
		w.stats.RewrittenBytes += written
	} else {
		w.stats.Kept++
		w.stats.KeptBytes += f.Size
	}
}

// writeFiles writes every file but those in w.skip with workers in
// parallel. Each worker takes the next file, largest first, and writes it
// part by part; once every file is taken, idle workers join the file with
// the most parts left, so that one large file (a 1 GiB relation segment)
// does not end on a single worker. Workers keep to different files
// otherwise: writers of one file contend for its inode lock. The worker
// that finishes a file's last part closes it. The first error (a checksum
// mismatch, a full disk) stops the others.
func (w *writer) writeFiles(ctx context.Context, files []repo.File, workers int) error {
	s := &schedule{}
	for _, f := range files {
		if !w.skip[f.Path] {
			job := &fileJob{f: f, nparts: int32(max(len(f.Parts), 1))}
			job.pending.Store(job.nparts)
			s.files = append(s.files, job)
		}
	}
	sort.SliceStable(s.files, func(i, j int) bool { return s.files[i].f.Size > s.files[j].f.Size })
	g, gctx := errgroup.WithContext(ctx)
	for range max(workers, 1) {
		g.Go(func() error {
			var job *fileJob
			for gctx.Err() == nil {
				i := int32(-1)
				if job != nil {
					i = job.claim()
				}
				if i < 0 {
					if job = s.pick(); job == nil {
						return nil
					}
					continue
				}
				if err := w.writePart(gctx, job, int(i)); err != nil {
					return fileError(job.f.Path, err)
				}
			}
			return nil
		})
	}
	err := g.Wait()
	for _, job := range s.files {
		if job.fd != nil && !job.closed {
			job.fd.Close() // after an error: files left open by stopped workers
			if job.plain != nil {
				job.plain.Close()
			}
		}
	}
	if err != nil {
		return err
	}
	return ctx.Err()
}

// schedule hands files to restore workers.
type schedule struct {
	mu    sync.Mutex
	files []*fileJob // largest first
	next  int        // files[next:] are not started
}

// pick returns the next file not started, or else the started file with
// the most parts left to claim, or nil when all are claimed.
func (s *schedule) pick() *fileJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next < len(s.files) {
		s.next++
		return s.files[s.next-1]
	}
	var best *fileJob
	var left int32
	for _, job := range s.files {
		if l := job.nparts - job.claimed.Load(); l > left {
			best, left = job, l
		}
	}
	return best
}

// fileJob is one file being written, by one worker or more.
type fileJob struct {
	f       repo.File
	nparts  int32        // parts to write (a file without parts: one empty one)
	claimed atomic.Int32 // parts handed to workers
	pending atomic.Int32 // parts not yet done

	once    sync.Once
	fd      *os.File
	reuse   bool // delta: the existing file has the right size; compare parts
	direct  bool // fd is opened with O_DIRECT: aligned writes only
	openErr error
	closed  bool

	plainOnce sync.Once
	plain     *os.File // buffered fd beside a direct one, for unaligned writes
	plainErr  error

	written atomic.Int64 // bytes fetched and written
}

// claim returns the index of the next part to write, or -1 when every part
// is taken.
func (j *fileJob) claim() int32 {
	if i := j.claimed.Add(1) - 1; i < j.nparts {
		return i
	}
	return -1
}

// writePart makes part i of the file match the manifest (a file without
// parts has one empty job, i = 0) and finishes the file after its last part.
func (w *writer) writePart(ctx context.Context, job *fileJob, i int) error {
	job.once.Do(func() {
		job.fd, job.reuse, job.direct, job.openErr = w.open(w.l.path(job.f.Path), job.f.Size, fileMode(job.f.Mode, 0o600))
	})
	if job.openErr != nil {
		return job.openErr
	}
	if i < len(job.f.Parts) {
		n, err := w.fillPart(ctx, job, job.f.Parts[i])
		if err != nil {
			return err
		}
		job.written.Add(n)
	}
	if job.pending.Add(-1) > 0 {
		return nil
	}
	return w.finish(job)
}

// finish closes a file whose parts are all written: size, mode, fsync
// when changed, times and owner.
func (w *writer) finish(job *fileJob) error {
	f, fd := job.f, job.fd
	written := job.written.Load()
	changed := !job.reuse || written > 0
	var err error
	if !job.reuse {
		err = fd.Truncate(f.Size) // sets the size of a file of empty parts too
	}
	if err == nil {
		err = fd.Chmod(fileMode(f.Mode, 0o600))
	}
	if err == nil && changed {
		err = fd.Sync()
	}
	job.closed = true
	if cerr := fd.Close(); err == nil {
		err = cerr
	}
	if job.plain != nil {
		if cerr := job.plain.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return err
	}
	p := w.l.path(f.Path)
	if !f.ModTime.IsZero() {
		if err := os.Chtimes(p, f.ModTime, f.ModTime); err != nil {
			return err
		}
	}
	if err := w.own.apply(p); err != nil {
		return err
	}
	w.count(f, written, changed)
	return nil
}

// open opens p for writing. reuse says that the existing file has the
// right size and its parts are to be compared (delta only); direct that a
// new file is written with O_DIRECT.
func (w *writer) open(p string, size int64, mode os.FileMode) (fd *os.File, reuse, direct bool, err error) {
	if w.delta {
		fi, err := os.Lstat(p)
		switch {
		case err == nil && fi.Mode().IsRegular() && fi.Size() == size:
			fd, err := os.OpenFile(p, os.O_RDWR, 0)
			return fd, err == nil, false, err
		case err == nil:
			if err := os.RemoveAll(p); err != nil {
				return nil, false, false, err
			}
		case !errors.Is(err, os.ErrNotExist):
			return nil, false, false, err
		}
	}
	flags := os.O_CREATE | os.O_TRUNC | os.O_WRONLY
	if oDirect != 0 && size >= ioBufSize && !w.noDirect.Load() {
		fd, err = os.OpenFile(p, flags|oDirect, mode)
		if err == nil {
			return fd, false, true, nil
		}
		if !errors.Is(err, syscall.EINVAL) {
			return nil, false, false, err
		}
		w.noDirect.Store(true) // the file system does not do O_DIRECT (tmpfs)
	}
	fd, err = os.OpenFile(p, flags, mode)
	return fd, false, false, err
}

// ioBufSize is the size of the buffers restore reads and writes files
// with; a multiple of directAlign.
const ioBufSize = 1 << 20

// directAlign is the alignment of O_DIRECT offsets, lengths and buffers.
const directAlign = 4096

// ioBufs hold ioBufSize bytes aligned to directAlign.
var ioBufs = sync.Pool{New: func() any {
	b := make([]byte, ioBufSize+directAlign)
	off := int(uintptr(unsafe.Pointer(&b[0])) % directAlign)
	if off != 0 {
		off = directAlign - off
	}
	b = b[off : off+ioBufSize : off+ioBufSize]
	return &b
}}

// fillPart writes one part of job's file; when the file is reused (delta)
// only if the bytes already there do not have its digest. It returns the
// bytes it wrote.
func (w *writer) fillPart(ctx context.Context, job *fileJob, part repo.Part) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	bp := ioBufs.Get().(*[]byte)
	defer ioBufs.Put(bp)
	if job.reuse {
		same, err := samePart(job.fd, part, w.r.Codec(), *bp)
		if err != nil || same {
			return 0, err
		}
	}
	out := &chunkWriter{job: job, off: part.Offset, buf: (*bp)[:0]}
	if err := w.r.ReadPart(ctx, w.cluster, part, out); err != nil {
		return 0, err
	}
	if err := out.Flush(); err != nil {
		return 0, err
	}
	return part.Size, nil
}

// chunkWriter gathers a part's bytes into buf and writes them to the file
// at off in large writes. Into a direct file, an aligned chunk goes with
// O_DIRECT (the file's last chunk padded with zeros; the file is truncated
// to its size when finished) and anything else through a buffered fd.
type chunkWriter struct {
	job *fileJob
	off int64
	buf []byte
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := copy(c.buf[len(c.buf):cap(c.buf)], p)
		c.buf = c.buf[:len(c.buf)+k]
		p = p[k:]
		if len(c.buf) == cap(c.buf) {
			if err := c.Flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// Flush writes what is gathered.
func (c *chunkWriter) Flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	job, data := c.job, c.buf
	fd := job.fd
	if job.direct {
		end := c.off+int64(len(data)) == job.f.Size
		if padded := (len(data) + directAlign - 1) &^ (directAlign - 1); c.off%directAlign == 0 && (padded == len(data) || end) {
			clear(data[len(data):padded])
			data = data[:padded]
		} else {
			var err error
			if fd, err = job.plainFD(); err != nil {
				return err
			}
		}
	}
	_, err := fd.WriteAt(data, c.off)
	if err != nil && fd == job.fd && job.direct && errors.Is(err, syscall.EINVAL) {
		// The file system took O_DIRECT at open but refuses the write
		// (a stricter alignment): write through the page cache instead.
		var perr error
		if fd, perr = job.plainFD(); perr != nil {
			return perr
		}
		_, err = fd.WriteAt(c.buf, c.off)
	}
	c.off += int64(len(c.buf))
	c.buf = c.buf[:0]
	return err
}

// plainFD opens the file again without O_DIRECT.
func (j *fileJob) plainFD() (*os.File, error) {
	j.plainOnce.Do(func() { j.plain, j.plainErr = os.OpenFile(j.fd.Name(), os.O_WRONLY, 0) })
	return j.plain, j.plainErr
}

// samePart reports whether the bytes of fd at part's range are the part's:
// they have its QuickSum (its SHA-256 digest for parts of backups that did
// not record one).
func samePart(fd *os.File, part repo.Part, codec *repo.Codec, buf []byte) (bool, error) {
	willNeed(fd, part.Offset, part.Size)
	var q *repo.QuickHasher
	var h hash.Hash
	var dst io.Writer
	if part.Quick.IsZero() {
		h = codec.NewHash()
		dst = h
	} else {
		q = repo.NewQuickHasher()
		dst = q
	}
	if _, err := io.CopyBuffer(dst, io.NewSectionReader(fd, part.Offset, part.Size), buf); err != nil {
		return false, fmt.Errorf("compare part at %d: %w", part.Offset, err)
	}
	if h != nil {
		return bytes.Equal(h.Sum(nil), part.Digest[:]), nil
	}
	return q.Sum() == part.Quick, nil
}
