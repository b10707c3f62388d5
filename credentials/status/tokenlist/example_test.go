package tokenlist_test

import (
	"context"
	"crypto"
	"fmt"
	"time"

	"github.com/medid/medid/credentials/status/tokenlist"
	"github.com/medid/medid/internal/keys"
)

// Decode the 2-bit example of the draft and read its statuses.
func ExampleDecode() {
	l, err := tokenlist.Decode(2, "eNo76fITAAPfAgc", 1<<20)
	if err != nil {
		panic(err)
	}
	statuses := make([]uint8, l.Len())
	for i := range statuses {
		statuses[i], _ = l.Get(i)
	}
	fmt.Println(statuses)
	fmt.Printf("% x\n", l.Bytes())
	// Output:
	// [1 2 0 3 0 1 0 1 1 2 3 3]
	// c9 44 f9
}

// An issuer signs a Status List Token; a relying party that fetched it from
// the URI in a Referenced Token verifies it and reads the status at idx.
func ExampleVerifyJWT() {
	key, _ := keys.Generate(keys.ES256)
	l, _ := tokenlist.New(2, 131072)
	l.Set(42, tokenlist.Suspended)
	iat := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	uri := "https://issuer.example/status/1"
	tok, err := tokenlist.SignJWT(l, uri, iat, iat.Add(24*time.Hour), time.Hour, key, "key-1")
	if err != nil {
		panic(err)
	}

	trusted := func(_ context.Context, alg keys.Algorithm, kid string) (crypto.PublicKey, error) {
		if kid != "key-1" {
			return nil, fmt.Errorf("unknown key %q", kid)
		}
		return key.Public(), nil
	}
	ref := tokenlist.Reference{Idx: 42, URI: uri} // from the Referenced Token
	v, err := tokenlist.VerifyJWT(context.Background(), tok, ref.URI, trusted, iat.Add(time.Minute))
	if err != nil {
		panic(err)
	}
	status, _ := v.List.Get(ref.Idx)
	fmt.Println(status == tokenlist.Suspended, v.TTL)
	// Output: true 1h0m0s
}
