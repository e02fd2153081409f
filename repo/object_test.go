package repo

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

func testCodecs(t *testing.T) map[string]*Codec {
	t.Helper()
	_, k, err := newCipherParamsFast([]byte("secret pass"))
	if err != nil {
		t.Fatal(err)
	}
	codecs := map[string]*Codec{}
	for _, c := range []Compression{CompressNone, CompressZstd, CompressS2, CompressGzip} {
		codecs[c.String()] = &Codec{Compression: c}
		codecs[c.String()+"+aes"] = &Codec{Compression: c, keys: k}
	}
	return codecs
}

// newCipherParamsFast derives keys with a cheap scrypt cost for unit tests.
func newCipherParamsFast(pass []byte) (*CipherParams, *keys, error) {
	p := &CipherParams{Type: "aes-256-gcm", KDF: "scrypt", N: 1 << 10, R: 8, P: 1, Salt: []byte("0123456789abcdef0123456789abcdef")}
	k, err := p.derive(pass)
	if err != nil {
		return nil, nil, err
	}
	p.KeyCheck = k.check()
	return p, k, nil
}

func samples() map[string][]byte {
	rnd := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 200<<10)
	for i := range random {
		random[i] = byte(rnd.Uint32())
	}
	text := bytes.Repeat([]byte("INSERT INTO pgbench_history VALUES (1, 2, 3);\n"), 400000)
	return map[string][]byte{
		"empty":   {},
		"one":     {42},
		"chunk":   random[:chunkSize],
		"chunk+1": random[:chunkSize+1],
		"random":  random,
		"text":    text,
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for cname, c := range testCodecs(t) {
		for sname, plain := range samples() {
			t.Run(cname+"/"+sname, func(t *testing.T) {
				obj, d, err := c.Encode(plain)
				if err != nil {
					t.Fatal(err)
				}
				got, d2, err := c.Decode(obj)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, plain) || d != d2 || d != c.Digest(plain) {
					t.Fatalf("round trip differs: %d bytes in, %d out", len(plain), len(got))
				}
				if c.Encrypted() && len(plain) > 16 && bytes.Contains(obj, plain[:16]) {
					t.Fatal("encrypted object contains plain bytes")
				}
			})
		}
	}
}

func TestCodecDetectsDamage(t *testing.T) {
	plain := samples()["text"][:300000]
	for cname, c := range testCodecs(t) {
		obj, _, err := c.Encode(plain)
		if err != nil {
			t.Fatal(err)
		}
		damages := map[string][]byte{
			"truncated":      obj[:len(obj)-trailerLen-1],
			"no trailer":     obj[:len(obj)-trailerLen],
			"appended":       append(bytes.Clone(obj[:len(obj)-trailerLen]), append([]byte{1, 2, 3}, obj[len(obj)-trailerLen:]...)...),
			"flipped header": flip(obj, 5),
		}
		// Flip every 499th byte of the body in turn: each must be caught.
		for i := headerLen; i < len(obj); i += 499 {
			damages[fmt.Sprintf("flip@%d", i)] = flip(obj, i)
		}
		for dname, bad := range damages {
			if got, _, err := c.Decode(bad); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s/%s: want ErrCorrupt, got err=%v (%d bytes)", cname, dname, err, len(got))
			}
		}
	}
}

func TestCodecWrongKey(t *testing.T) {
	_, k1, _ := newCipherParamsFast([]byte("right"))
	_, k2, _ := newCipherParamsFast([]byte("wrong"))
	obj, _, err := (&Codec{Compression: CompressZstd, keys: k1}).Encode([]byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := (&Codec{Compression: CompressZstd, keys: k2}).Decode(obj); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, _, err := (&Codec{Compression: CompressZstd}).Decode(obj); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("no key: %v", err)
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}
