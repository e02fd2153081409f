package basebackup

import (
	"testing"

	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/repo/storage/memory"
)

// An unchanged part becomes a reference to the parent's object; when the
// parent was made by an earlier version (no XXH3), the reference gets one,
// so that a delta restore of the new backup need not hash with SHA-256.
// A changed part is stored anew.
func TestStoreReferencesParent(t *testing.T) {
	ctx := t.Context()
	r, err := repo.Init(ctx, repo.Options{Storage: memory.New(), Compression: repo.CompressZstd})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Repo: r, Cluster: &repo.ClusterInfo{Name: "c"}, Workers: 1}
	o.defaults()
	const parentLabel = "20261122-101500F"
	pw := r.NewBundleWriter(ctx, "c", parentLabel, 1)
	same, changed := []byte("unchanged part"), []byte("changed part")
	oldPart, err := pw.Add(same)
	if err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	oldPart.Quick = repo.QuickSum{} // as an earlier version wrote it
	otherPart := oldPart
	otherPart.Digest = r.Codec().Digest([]byte("what the part held then"))

	p, ctx := newPool(ctx, o, "20261122-101500F_20261122-111500I")
	defer p.finish()
	var bw *repo.BundleWriter
	ref, err := p.store(ctx, r.Codec(), &bw, job{data: same, parent: &oldPart})
	if err != nil {
		t.Fatal(err)
	}
	if ref.Label != parentLabel || ref.Digest != oldPart.Digest || ref.Quick != repo.QuickSumOf(same) || bw != nil {
		t.Fatalf("unchanged part stored as %+v (bundle %v); want a reference to %s with the XXH3 of its bytes", ref, bw, parentLabel)
	}
	part, err := p.store(ctx, r.Codec(), &bw, job{data: changed, parent: &otherPart})
	if err != nil {
		t.Fatal(err)
	}
	if part.Label == parentLabel || part.Quick != repo.QuickSumOf(changed) || bw == nil {
		t.Fatalf("changed part stored as %+v; want a new object with the XXH3 of its bytes", part)
	}
	// A matching XXH3 is not enough: the SHA-256 digest decides.
	forged := otherPart
	forged.Quick = repo.QuickSumOf(same)
	part, err = p.store(ctx, r.Codec(), &bw, job{data: same, parent: &forged})
	if err != nil || part.Label == parentLabel {
		t.Fatalf("part with the parent's XXH3 but not its digest stored as %+v (%v); want a new object", part, err)
	}
	bw.Abort()
}
