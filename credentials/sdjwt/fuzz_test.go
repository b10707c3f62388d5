package sdjwt_test

import (
	"context"
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/keys"
)

func FuzzDecodeDisclosure(f *testing.F) {
	for _, s := range []string{
		"WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0",
		"WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0",
		"WyJBSngtMDk1VlBycFR0TjRRTU9xUk9BIiwgImFkZHJlc3MiLCB7InN0cmVldF9hZGRyZXNzIjogIjEyMyBNYWluIFN0IiwgImxvY2FsaXR5IjogIkFueXRvd24iLCAicmVnaW9uIjogIkFueXN0YXRlIiwgImNvdW50cnkiOiAiVVMifV0",
		"", "W10", "WyJhIl0", "WyJhIiwgIl9zZCIsIDFd", "WzEsMiwzXQ", "e30",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := sdjwt.DecodeDisclosure(s)
		if err != nil {
			return
		}
		if d.Encoded() != s || d.Digest() != sdjwt.Digest(s) {
			t.Fatal("a decoded Disclosure does not keep its encoding")
		}
		if name, ok := d.Name(); ok && (name == "_sd" || name == "...") {
			t.Fatalf("accepted the reserved name %q", name)
		}
		// Re-encoding what was decoded gives a Disclosure that decodes to
		// the same salt, name and value.
		name, ok := d.Name()
		var again sdjwt.Disclosure
		if ok {
			again, err = sdjwt.NewDisclosure(d.Salt(), name, d.Value())
		} else {
			again, err = sdjwt.NewArrayElementDisclosure(d.Salt(), d.Value())
		}
		if err != nil {
			if d.Salt() == "" {
				return // NewDisclosure refuses empty salts
			}
			t.Fatalf("re-encoding: %v", err)
		}
		back, err := sdjwt.DecodeDisclosure(again.Encoded())
		if err != nil {
			t.Fatalf("decoding a re-encoded Disclosure: %v", err)
		}
		if back.Salt() != d.Salt() {
			t.Fatal("salt changed")
		}
	})
}

// fuzzKeys are fixed for the fuzz run so that seeds stay valid.
var fuzzIssuer, fuzzHolder = mustGenerate(keys.ES256), mustGenerate(keys.EdDSA)

func mustGenerate(alg keys.Algorithm) *keys.PrivateKey {
	k, err := keys.Generate(alg)
	if err != nil {
		panic(err)
	}
	return k
}

func FuzzVerify(f *testing.F) {
	iss, err := sdjwt.IssueVC(patient(fuzzHolder.Public()), patientPolicy, sdjwt.IssueOptions{Key: fuzzIssuer})
	if err != nil {
		f.Fatal(err)
	}
	full := iss.Compact()
	p, err := sdjwt.Present(full, sdjwt.DisclosePaths([]any{"address"}, []any{"identifiers", 0}), kbOptions(fuzzHolder))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{full, p, strings.TrimSuffix(p, "~"), "~", "a.b.c~", "e30.e30.~", p + "~", readTestdata(f, "rfc9901-5.1.txt")} {
		f.Add(s)
	}
	opts := sdjwt.VerifyOptions{
		IssuerKey: func(context.Context, string, sdjwt.Header) (crypto.PublicKey, error) {
			return fuzzIssuer.Public(), nil
		},
		ExpectedTyp: sdjwt.TypVC,
		Now:         func() time.Time { return t0 },
		Nonce:       "n-0S6_WzA2Mj",
		Audience:    verifierURL,
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := sdjwt.Verify(context.Background(), s, opts)
		if (v == nil) == (err == nil) {
			t.Fatalf("Verify returned %v and %v", v, err)
		}
		if err == nil {
			if _, ok := v.Claims["_sd"]; ok {
				t.Fatal("_sd left in the claims")
			}
			if v.KeyBound && v.Holder == nil {
				t.Fatal("key bound without a holder key")
			}
		}
	})
}
