package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/note"
)

func FuzzVerifyCheckpoint(f *testing.F) {
	seed := sha256.Sum256([]byte("fuzz"))
	k := ed25519.NewKeyFromSeed(seed[:])
	const origin = "medid.example/ledger"
	s, err := NewNoteSigner(origin, k)
	if err != nil {
		f.Fatal(err)
	}
	vkey, err := VerifierKey(origin, k.Public().(ed25519.PublicKey))
	if err != nil {
		f.Fatal(err)
	}
	good, err := note.Sign(&note.Note{Text: origin + "\n42\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"}, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(origin + "\n42\nAAAA\n\n— medid.example/ledger AAAA\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		cp, err := VerifyCheckpoint(raw, vkey)
		if err != nil {
			return
		}
		// Anything accepted must be a well-formed checkpoint for the origin.
		if cp.Origin != origin || len(cp.Hash) != sha256.Size || len(cp.Raw) != len(raw) {
			t.Fatalf("accepted malformed checkpoint %+v", cp)
		}
	})
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"checkpoint", "/key", "tile/0/000", "tile/0/x001/x234/067.p/8", "tile/entries/000.p/255",
		"tile/0/000.p/0", "tile/63/x999/999", "tile/0/x000/001", "tile/entries/", "tile/0/.p/5", "tile//000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		res, err := parsePath(p)
		if err != nil {
			return
		}
		// Accepted tile paths are canonical: they re-encode to themselves.
		var want string
		switch res.kind {
		case kindTile:
			want = layout.TilePath(res.level, res.index, res.width)
		case kindEntries:
			want = layout.EntriesPath(res.index, res.width)
		default:
			return
		}
		if trimmed := strings.TrimPrefix(p, "/"); trimmed != want {
			t.Fatalf("parsePath(%q) accepted non-canonical path; canonical is %q", p, want)
		}
		if res.level > 63 {
			t.Fatalf("parsePath(%q) accepted level %d", p, res.level)
		}
	})
}
