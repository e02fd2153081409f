package basebackup

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/pgkeep/pgkeep/repo"
)

// store reads every archive of the stream and hands the files' parts to
// the worker pool; the manifest gets the files once all parts are stored.
func (b *backup) store(ctx context.Context, s *archiveStream, locations map[string]uint32) error {
	p, wctx := newPool(ctx, b.o, b.m.Label)
	prog := startProgress(b.o.Progress, b.estimate)
	s.onData = prog.add
	var slots []*fileSlot
	err := b.readArchives(wctx, s, p, locations, &slots)
	ferr := p.finish()
	prog.stop()
	switch {
	case ferr != nil:
		return fmt.Errorf("store backup %s: %w", b.m.Label, ferr)
	case err != nil:
		return fmt.Errorf("read backup stream: %w", err)
	}
	for _, sl := range slots {
		sl.file.Parts = sl.parts
		b.m.Files = append(b.m.Files, sl.file)
		b.m.Size += sl.file.Size
	}
	b.m.StoredSize = p.stored.Load()
	b.m.Bundles = int(p.bundles.Load())
	return nil
}

func (b *backup) readArchives(ctx context.Context, s *archiveStream, p *pool, locations map[string]uint32, slots *[]*fileSlot) error {
	for {
		a, r, err := s.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if a.Name == "manifest" {
			continue
		}
		prefix := ""
		if a.Path != "" {
			oid, ok := locations[a.Path]
			if !ok {
				return fmt.Errorf("archive %s for unknown tablespace %s", a.Name, a.Path)
			}
			prefix = fmt.Sprintf("pg_tblspc/%d/", oid)
		}
		if err := b.readTar(ctx, tar.NewReader(r), prefix, p, slots); err != nil {
			return fmt.Errorf("%s: %w", a.Name, err)
		}
	}
}

func (b *backup) readTar(ctx context.Context, tr *tar.Reader, prefix string, p *pool, slots *[]*fileSlot) error {
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := prefix + path.Clean(strings.TrimPrefix(h.Name, "./"))
		switch h.Typeflag {
		case tar.TypeDir:
			b.m.Dirs = append(b.m.Dirs, repo.Dir{Path: name, Mode: uint32(h.Mode) & 0o7777})
		case tar.TypeSymlink:
			// pg_tblspc/<oid> links: recorded as Manifest.Tablespaces.
			if !strings.HasPrefix(name, "pg_tblspc/") {
				b.o.Log.Warn("symbolic link in the backup is not stored", "path", name, "target", h.Linkname)
			}
		case tar.TypeReg:
			sl := &fileSlot{file: repo.File{Path: name, Size: h.Size, Mode: uint32(h.Mode) & 0o7777, ModTime: h.ModTime.UTC()}}
			*slots = append(*slots, sl)
			if err := b.split(ctx, tr, sl, p); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		default:
			b.o.Log.Warn("unexpected entry in the backup stream", "path", name, "type", h.Typeflag)
		}
	}
}

// split cuts one file into parts and queues them.
func (b *backup) split(ctx context.Context, r io.Reader, sl *fileSlot, p *pool) error {
	size := sl.file.Size
	n := int((size + p.partSize - 1) / p.partSize)
	sl.parts = make([]repo.Part, n)
	for i := range n {
		off := int64(i) * p.partSize
		buf := p.buffer()
		data := (*buf)[:min(p.partSize, size-off)]
		if _, err := io.ReadFull(r, data); err != nil {
			return err
		}
		j := job{file: sl, index: i, offset: off, data: data}
		if part, ok := b.parent.lookup(sl.file.Path, off, int64(len(data))); ok {
			j.parent = &part
		}
		select {
		case p.jobs <- j:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
