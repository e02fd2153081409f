package basebackup

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/pgkeep/pgkeep/repo"
)

// job is one part of one file to store.
type job struct {
	file   *fileSlot
	index  int
	offset int64
	data   []byte
	parent *repo.Part // the parent's part at this offset, when sizes match
}

// fileSlot collects the parts of one file as workers finish them.
type fileSlot struct {
	file  repo.File
	mu    sync.Mutex
	parts []repo.Part
}

// pool is the set of workers storing parts into bundles.
type pool struct {
	r        *repo.Repo
	cluster  string
	label    string
	bundle   int64 // size at which a bundle is closed
	jobs     chan job
	bufs     sync.Pool
	nextB    atomic.Int32
	stored   atomic.Int64
	bundles  atomic.Int32
	wg       sync.WaitGroup
	errOnce  sync.Once
	err      error
	cancel   context.CancelFunc
	partSize int64
}

func newPool(ctx context.Context, o Options, label string) (*pool, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	p := &pool{r: o.Repo, cluster: o.Cluster.Name, label: label, bundle: o.BundleSize,
		jobs: make(chan job, o.Workers), cancel: cancel, partSize: o.PartSize}
	p.bufs.New = func() any { b := make([]byte, o.PartSize); return &b }
	for range o.Workers {
		p.wg.Add(1)
		go p.work(ctx)
	}
	return p, ctx
}

func (p *pool) fail(err error) {
	p.errOnce.Do(func() { p.err = err; p.cancel() })
}

// buffer returns a part buffer from the pool.
func (p *pool) buffer() *[]byte { return p.bufs.Get().(*[]byte) }

// work stores jobs until the channel closes: a part equal to the parent's
// becomes a reference, any other is appended to this worker's bundle.
func (p *pool) work(ctx context.Context) {
	defer p.wg.Done()
	var bw *repo.BundleWriter
	defer func() {
		if bw != nil {
			if ctx.Err() != nil {
				bw.Abort()
			} else if err := bw.Close(); err != nil {
				p.fail(err)
			}
		}
	}()
	codec := p.r.Codec()
	for j := range p.jobs {
		if ctx.Err() != nil {
			continue // drain
		}
		part, err := p.store(ctx, codec, &bw, j)
		buf := j.data[:cap(j.data)]
		p.bufs.Put(&buf)
		if err != nil {
			p.fail(err)
			continue
		}
		part.Offset = j.offset
		j.file.mu.Lock()
		j.file.parts[j.index] = part
		j.file.mu.Unlock()
	}
}

func (p *pool) store(ctx context.Context, codec *repo.Codec, bw **repo.BundleWriter, j job) (repo.Part, error) {
	q := repo.QuickSumOf(j.data)
	if j.parent != nil && unchanged(codec, j.data, q, j.parent) {
		ref := *j.parent
		ref.Quick = q // the parent may have been made by an earlier version, without one
		return ref, nil
	}
	if *bw == nil {
		n := int(p.nextB.Add(1))
		*bw = p.r.NewBundleWriter(ctx, p.cluster, p.label, n)
		p.bundles.Add(1)
	}
	part, err := (*bw).AddQuick(j.data, q)
	if err != nil {
		return part, err
	}
	p.stored.Add(part.BLength)
	if (*bw).Size() >= p.bundle {
		err = (*bw).Close()
		*bw = nil
	}
	return part, err
}

// unchanged reports whether data, whose XXH3 is q, holds the parent's
// part, by its SHA-256 digest. A part whose XXH3 differs from the parent's
// has changed: it is not hashed with SHA-256 here, only once, when it is
// stored.
func unchanged(codec *repo.Codec, data []byte, q repo.QuickSum, parent *repo.Part) bool {
	if !parent.Quick.IsZero() && q != parent.Quick {
		return false
	}
	return codec.Digest(data) == parent.Digest
}

// finish waits for the workers and returns the first error.
func (p *pool) finish() error {
	close(p.jobs)
	p.wg.Wait()
	p.cancel()
	return p.err
}
