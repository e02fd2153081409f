package repo

import (
	"context"
	"fmt"
	"io"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// BundleWriter streams encoded parts into one bundle object. The bundle is
// published (atomically, like every object) by Close; until then nothing is
// visible, and Abort leaves nothing behind.
type BundleWriter struct {
	r      *Repo
	codec  *Codec
	label  string
	n      int
	pw     *io.PipeWriter
	done   chan error
	offset int64
	parts  int
}

// NewBundleWriter starts bundle n of backup label of cluster.
func (r *Repo) NewBundleWriter(ctx context.Context, cluster, label string, n int) *BundleWriter {
	pr, pw := io.Pipe()
	// Bundles are written by parallel workers: one goroutine per object.
	b := &BundleWriter{r: r, codec: r.codec.WithConcurrency(1), label: label, n: n, pw: pw, done: make(chan error, 1)}
	key := BundleKey(cluster, label, n)
	go func() {
		err := r.store.Put(ctx, key, pr, -1, storage.PutOptions{})
		pr.CloseWithError(err) // unblock a writer if Put gave up early
		b.done <- err
	}()
	return b
}

// Add encodes plain as one part, appends it and returns its Part with
// everything but Offset filled in.
func (b *BundleWriter) Add(plain []byte) (Part, error) {
	return b.AddQuick(plain, QuickSumOf(plain))
}

// AddQuick is Add for a caller that has computed plain's QuickSum, q.
func (b *BundleWriter) AddQuick(plain []byte, q QuickSum) (Part, error) {
	obj, d, err := b.codec.Encode(plain)
	if err != nil {
		return Part{}, err
	}
	if _, err := b.pw.Write(obj); err != nil {
		return Part{}, fmt.Errorf("bundle %d of %s: %w", b.n, b.label, err)
	}
	p := Part{Size: int64(len(plain)), Digest: d, Quick: q, Label: b.label, Bundle: b.n, BOffset: b.offset, BLength: int64(len(obj))}
	b.offset += int64(len(obj))
	b.parts++
	return p, nil
}

// Size is the number of bytes written to the bundle so far.
func (b *BundleWriter) Size() int64 { return b.offset }

// Parts is the number of parts added.
func (b *BundleWriter) Parts() int { return b.parts }

// Close publishes the bundle and returns once it is durable.
func (b *BundleWriter) Close() error {
	b.pw.Close()
	if err := <-b.done; err != nil {
		return fmt.Errorf("bundle %d of %s: %w", b.n, b.label, err)
	}
	return nil
}

// Abort discards the bundle.
func (b *BundleWriter) Abort() {
	b.pw.CloseWithError(fmt.Errorf("bundle %d of %s aborted", b.n, b.label))
	<-b.done
}
