package oidc_test

import (
	"bytes"
	"fmt"

	"github.com/medid/medid/verifier/oidc"
)

// Two client platforms on different hosts see the same patient under
// unrelated subject identifiers; one platform always sees the same one.
func ExamplePairwiseSubject() {
	secret := bytes.Repeat([]byte{42}, 32)
	patient := "did:jwk:eyJjcnYiOiJFZDI1NTE5Iiwia3R5IjoiT0tQIiwieCI6IjExcVlBWUt4Q3JmVlNfN1R5V1FIT2c3aGN2UGFwaU1scndJYWFQY0hVUm8ifQ"
	a := oidc.PairwiseSubject(secret, "telehealth-a.example", patient)
	b := oidc.PairwiseSubject(secret, "telehealth-b.example", patient)
	fmt.Println(a == b, a == oidc.PairwiseSubject(secret, "telehealth-a.example", patient), len(a))
	// Output: false true 43
}
