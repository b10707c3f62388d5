package sdjwt_test

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/keys"
)

// An issuer issues a small SD-JWT VC, the holder presents two of its claims
// with Key Binding, and a verifier checks the presentation.
func Example() {
	issuerKey, _ := keys.Generate(keys.ES256)
	holderKey, _ := keys.Generate(keys.EdDSA)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	// Issuer. A fixed Rand makes salts and decoys repeatable; production
	// code leaves it nil (crypto/rand).
	issued, err := sdjwt.IssueVC(sdjwt.VCClaims{
		VCT:      "https://medid.example/vct/VaccinationCredential",
		Issuer:   "https://issuer.medid.example",
		IssuedAt: now.Add(-24 * time.Hour),
		Expires:  now.Add(365 * 24 * time.Hour),
		Holder:   holderKey.Public(),
		Claims: map[string]any{
			"given_name":  "Erika",
			"family_name": "Mustermann",
			"vaccine":     map[string]any{"code": "J07BX03", "dose": 3},
		},
	}, sdjwt.Policy{Paths: [][]any{{"vaccine", "dose"}}}, sdjwt.IssueOptions{
		Key:  issuerKey,
		Rand: rand.NewChaCha8([32]byte{1}),
	})
	if err != nil {
		panic(err)
	}

	// Holder: reveal the vaccine code only, bound to the verifier's nonce.
	presentation, err := sdjwt.Present(issued.Compact(),
		sdjwt.DisclosePaths([]any{"vaccine", "code"}),
		&sdjwt.KeyBindingOptions{Key: holderKey, Nonce: "XZOUco1u", Audience: "https://verifier.example", IssuedAt: now})
	if err != nil {
		panic(err)
	}

	// Verifier.
	v, err := sdjwt.Verify(context.Background(), presentation, sdjwt.VerifyOptions{
		IssuerKey: func(_ context.Context, iss string, _ sdjwt.Header) (crypto.PublicKey, error) {
			return issuerKey.Public(), nil // look iss up in a trust list
		},
		ExpectedTyp:       sdjwt.TypVC,
		Now:               func() time.Time { return now },
		RequireKeyBinding: true,
		Nonce:             "XZOUco1u",
		Audience:          "https://verifier.example",
	})
	if err != nil {
		panic(err)
	}
	delete(v.Claims, "cnf") // a fresh random key: not repeatable output
	out, _ := json.MarshalIndent(v.Claims, "", "  ")
	fmt.Println(string(out))
	fmt.Println("disclosed:", v.Disclosed)
	fmt.Println("key bound:", v.KeyBound)
	// Output:
	// {
	//   "exp": 1803902400,
	//   "iat": 1772280000,
	//   "iss": "https://issuer.medid.example",
	//   "vaccine": {
	//     "code": "J07BX03"
	//   },
	//   "vct": "https://medid.example/vct/VaccinationCredential"
	// }
	// disclosed: [[vaccine]]
	// key bound: true
}

// The Disclosure of RFC 9901 section 4.2.1 and its digest (section 4.2.3).
func ExampleNewDisclosure() {
	d, err := sdjwt.NewDisclosure("_26bc4LT-ac6q2KI6cBW5es", "family_name", "Möbius")
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Encoded())
	fmt.Println(d.Digest())
	fmt.Println(d) // prints no claim value
	// Output:
	// WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0
	// X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0
	// sdjwt.Disclosure(X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0)
}

// DisclosePaths turns a verifier's list of requested claims into the
// choice Present needs: the claims asked for, what lies below them, and
// the Disclosures that must come along to reach them.
func ExampleDisclosePaths() {
	choose := sdjwt.DisclosePaths([]any{"address", "locality"}, []any{"vaccinations", nil, "date"})
	for _, p := range [][]any{
		{"address"}, {"address", "locality"}, {"address", "street_address"},
		{"vaccinations"}, {"vaccinations", 2}, {"vaccinations", 2, "date"}, {"vaccinations", 2, "lot"},
		{"birthdate"},
	} {
		fmt.Println(p, choose(p))
	}
	// Output:
	// [address] true
	// [address locality] true
	// [address street_address] false
	// [vaccinations] true
	// [vaccinations 2] true
	// [vaccinations 2 date] true
	// [vaccinations 2 lot] false
	// [birthdate] false
}
