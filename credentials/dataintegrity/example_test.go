package dataintegrity_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/medid/medid/credentials/dataintegrity"
	"github.com/medid/medid/credentials/jsonld"
)

func Example() {
	// One Suite per process: it caches processed contexts. The issuer's
	// health context is registered at its base URL; nothing is fetched.
	loader, err := jsonld.NewLoader(jsonld.HealthContext("https://issuer.example"))
	if err != nil {
		panic(err)
	}
	suite := dataintegrity.New(loader)

	key := ed25519.NewKeyFromSeed(make([]byte, 32)) // in medid: keys.PrivateKey.Signer()
	const vm = "did:medid:issuer123#key-1"
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	credential := []byte(`{
  "@context": ["https://www.w3.org/ns/credentials/v2", "https://issuer.example/contexts/health-v1.jsonld"],
  "type": ["VerifiableCredential", "PatientIdentityCredential"],
  "issuer": "did:medid:issuer123",
  "validFrom": "2026-03-01T12:00:00Z",
  "credentialSubject": {"id": "did:example:patient", "given_name": "Ada", "family_name": "Lovelace"}
}`)
	signed, err := suite.Sign(context.Background(), credential, key, dataintegrity.Options{
		Cryptosuite: dataintegrity.EdDSARDFC2022, VerificationMethod: vm, Created: created,
	})
	if err != nil {
		panic(err)
	}

	resolve := func(_ context.Context, method string, _ time.Time) (crypto.PublicKey, error) {
		if method != vm {
			return nil, fmt.Errorf("unknown verification method %s", method)
		}
		return key.Public(), nil
	}
	v, err := suite.Verify(context.Background(), signed, resolve, dataintegrity.VerifyOptions{Now: created.Add(time.Hour)})
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Proof.Cryptosuite, v.Proof.ProofPurpose, v.Proof.VerificationMethod)
	// Output: eddsa-rdfc-2022 assertionMethod did:medid:issuer123#key-1
}
