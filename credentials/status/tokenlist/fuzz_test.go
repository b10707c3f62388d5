package tokenlist_test

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"testing"
	"time"

	"github.com/medid/medid/credentials/status/tokenlist"
	"github.com/medid/medid/internal/keys"
)

func FuzzDecodeTokenList(f *testing.F) {
	for _, ex := range specExamples {
		f.Add(uint8(ex.bits), ex.lst, uint32(len(ex.statuses)))
	}
	f.Add(uint8(1), b64(zlibOf(make([]byte, 4096))), uint32(1000))
	f.Add(uint8(8), "eNrbuRgAAhcBXQ==", uint32(10))
	f.Fuzz(func(t *testing.T, bits uint8, lst string, maxEntries uint32) {
		max := int(maxEntries%(1<<20)) + 1
		l, err := tokenlist.Decode(int(bits), lst, max)
		if err != nil {
			return
		}
		if l.Len() == 0 || (l.Len()*l.Bits()+7)/8 > (max*l.Bits()+7)/8 {
			t.Fatalf("Len %d with bits %d exceeds %d entries", l.Len(), l.Bits(), max)
		}
		for _, i := range []int{0, l.Len() - 1} {
			if _, err := l.Get(i); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := l.Get(l.Len()); !errors.Is(err, tokenlist.ErrRange) {
			t.Fatalf("Get(Len) = %v", err)
		}
		again, err := l.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := tokenlist.Decode(int(bits), again, max)
		if err != nil || !bytes.Equal(back.Bytes(), l.Bytes()) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzVerifyTokenListJWT feeds VerifyJWT arbitrary compact tokens, and
// arbitrary headers and claims under a valid signature so that the claim
// checks are reached.
func FuzzVerifyTokenListJWT(f *testing.F) {
	k, err := keys.Generate(keys.EdDSA)
	if err != nil {
		f.Fatal(err)
	}
	good := signEd(k, edHeader, goodPayload)
	f.Add(good, edHeader, goodPayload)
	f.Add("a.b.c", `{"alg":"EdDSA","typ":"statuslist+jwt"}`, `{"sub":"https://example.com/statuslists/1","iat":1e3,"status_list":{"bits":2,"lst":"eNo76fITAAPfAgc"}}`)
	f.Add("", `{"alg":"ES256","typ":"statuslist+jwt","crit":[]}`, `{"sub":"https://example.com/statuslists/1","iat":-1,"exp":1e400,"ttl":1e300}`)
	kf := func(context.Context, keys.Algorithm, string) (crypto.PublicKey, error) { return k.Public(), nil }
	now := t0.Add(time.Hour)
	f.Fuzz(func(t *testing.T, token, header, payload string) {
		for _, tok := range []string{token, signEd(k, header, payload)} {
			v, err := tokenlist.VerifyJWT(context.Background(), tok, testURI, kf, now)
			if err != nil {
				if v != nil {
					t.Fatal("a Verified with an error")
				}
				continue
			}
			if v.URI != testURI || v.List == nil || v.List.Len() == 0 || v.IssuedAt.After(now.Add(tokenlist.Leeway)) {
				t.Fatalf("accepted %+v", v)
			}
			if !v.ExpiresAt.IsZero() && !now.Before(v.ExpiresAt.Add(tokenlist.Leeway)) {
				t.Fatalf("accepted an expired token: %+v", v)
			}
			if v.TTL < 0 {
				t.Fatalf("negative ttl: %+v", v)
			}
		}
	})
}
