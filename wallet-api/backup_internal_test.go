package walletapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestArchiveHeaderIsBound(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t, boltStore(t), &clock{t: time.Now()})
	a, err := s.CreateAccount(ctx, Credentials{Username: "backup", Password: "a good long password"})
	if err != nil {
		t.Fatal(err)
	}
	ar, err := s.Export(ctx, *a, "a long backup passphrase")
	if err != nil {
		t.Fatal(err)
	}
	pa, err := parseArchive(ar.Archive)
	if err != nil {
		t.Fatal(err)
	}
	if pa.header.Params != s.opt.BackupParams || len(pa.header.Salt) != 16 {
		t.Fatalf("header: %+v", pa.header)
	}
	// Another header (here: other KDF parameters) with the same ciphertext
	// does not open, even with the right passphrase.
	_, ct, _ := strings.Cut(strings.TrimPrefix(ar.Archive, ArchivePrefix), ".")
	pa.header.Params.Time++
	forged := ArchivePrefix + encodeHeader(t, pa.header) + "." + ct
	_, err = s.Import(ctx, ImportRequest{Archive: forged, Passphrase: "a long backup passphrase", Username: "forged", Password: "a good long password"})
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("forged header: %v", err)
	}
	// Parameters beyond what the server accepts are refused before any
	// work is done.
	pa.header.Params.Memory = 1 << 30
	_, err = s.Import(ctx, ImportRequest{Archive: ArchivePrefix + encodeHeader(t, pa.header) + "." + ct,
		Passphrase: "a long backup passphrase", Username: "forged", Password: "a good long password"})
	if !errors.Is(err, ErrMalformedArchive) {
		t.Fatalf("huge KDF parameters: %v", err)
	}
}

// FuzzParseArchive: an archive from a client never panics the parser, and
// what it accepts has sane KDF parameters.
func FuzzParseArchive(f *testing.F) {
	h := archiveHeader{KDF: "argon2id", Params: Argon2Params{Time: 1, Memory: 64, Threads: 1},
		Salt: make([]byte, 16), Nonce: make([]byte, 12)}
	f.Add(ArchivePrefix + encodeHeader(f, h) + "." + strings.Repeat("A", 40))
	f.Add(ArchivePrefix + "e30.AAAA")
	f.Add("medid-wallet-backup/2.x.y")
	f.Add(ArchivePrefix)
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		pa, err := parseArchive(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedArchive) {
				t.Fatalf("error without ErrMalformedArchive: %v", err)
			}
			return
		}
		if pa.header.Params.check(Argon2Params{Time: 1, Memory: 8, Threads: 1}) != nil || len(pa.header.Nonce) != 12 {
			t.Fatalf("accepted %+v", pa.header)
		}
	})
}

func encodeHeader(t testing.TB, h archiveHeader) string {
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
