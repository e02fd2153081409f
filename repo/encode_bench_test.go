package repo

import (
	"math/rand/v2"
	"testing"
)

// tableLike is n bytes of rows of words, digits and random bytes: it
// compresses only ~1.3x, harder than most table data.
func tableLike(n int) []byte {
	rnd := rand.New(rand.NewPCG(7, 8))
	words := []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"}
	b := make([]byte, 0, n)
	for len(b) < n {
		b = append(b, words[rnd.IntN(len(words))]...)
		for range 6 {
			b = append(b, byte('0'+rnd.IntN(10)))
		}
		b = append(b, byte(rnd.Uint32()), byte(rnd.Uint32()), 0, 0)
	}
	return b[:n]
}

// BenchmarkCodecEncode is what a backup worker does with each 4 MiB part:
// Codec.Encode (zstd level 3, SHA-256) of a part held in memory.
func BenchmarkCodecEncode(b *testing.B) {
	for _, data := range []struct {
		name  string
		plain []byte
	}{{"wal-like", walLike(4 << 20)}, {"table-like", tableLike(4 << 20)}} {
		b.Run(data.name, func(b *testing.B) {
			c := &Codec{Compression: CompressZstd, Level: 3, Concurrency: 1}
			b.SetBytes(int64(len(data.plain)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.Encode(data.plain); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
