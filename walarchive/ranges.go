package walarchive

import (
	"context"
	"sort"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/repo/storage"
)

// Range is a run of consecutive archived segments on one timeline.
type Range struct {
	First string `json:"first"`
	Last  string `json:"last"`
	Count int    `json:"segments"`
}

// Timeline summarises the archived WAL of one timeline.
type Timeline struct {
	Timeline uint32  `json:"timeline"`
	Ranges   []Range `json:"ranges"` // more than one means gaps
	Partial  string  `json:"partial,omitempty"`
	History  bool    `json:"history-file"`
}

// Summary is what the archive of one cluster holds.
type Summary struct {
	Timelines []Timeline `json:"timelines"`
	Objects   int        `json:"objects"`
	Bytes     int64      `json:"bytes"`
}

// Summarize lists cluster's archive and groups its segments into ranges.
func Summarize(ctx context.Context, r *repo.Repo, c *repo.ClusterInfo) (Summary, error) {
	var sum Summary
	segs := map[uint32][]uint64{}
	tls := map[uint32]*Timeline{}
	tl := func(id uint32) *Timeline {
		if tls[id] == nil {
			tls[id] = &Timeline{Timeline: id}
		}
		return tls[id]
	}
	err := r.Storage().List(ctx, c.WALPrefix(), func(info storage.ObjectInfo) error {
		sum.Objects++
		sum.Bytes += info.Size
		w, err := pg.ParseWALName(repo.WALNameOfKey(info.Key))
		if err != nil {
			return nil // not ours to judge here; verify reports strays
		}
		switch w.Kind {
		case pg.KindSegment:
			segs[w.Timeline] = append(segs[w.Timeline], w.SegNo(c.WALSegmentSize))
		case pg.KindPartial:
			tl(w.Timeline).Partial = w.Name
		case pg.KindHistory:
			tl(w.Timeline).History = true
		}
		return nil
	})
	if err != nil {
		return sum, err
	}
	for id, nos := range segs {
		tl(id).Ranges = ranges(id, nos, c.WALSegmentSize)
	}
	for _, t := range tls {
		sum.Timelines = append(sum.Timelines, *t)
	}
	sort.Slice(sum.Timelines, func(i, j int) bool { return sum.Timelines[i].Timeline < sum.Timelines[j].Timeline })
	return sum, nil
}

func ranges(tli uint32, nos []uint64, segSize int64) []Range {
	sort.Slice(nos, func(i, j int) bool { return nos[i] < nos[j] })
	var out []Range
	start := 0
	for i := 1; i <= len(nos); i++ {
		if i < len(nos) && nos[i] == nos[i-1]+1 {
			continue
		}
		out = append(out, Range{
			First: pg.SegmentName(tli, nos[start], segSize),
			Last:  pg.SegmentName(tli, nos[i-1], segSize),
			Count: i - start,
		})
		start = i
	}
	return out
}
