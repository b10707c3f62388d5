package ledger_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log"
	"os"

	"github.com/medid/medid/internal/ledger"
)

func ExampleVerifierKey() {
	seed := make([]byte, ed25519.SeedSize) // use a real key in production
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	vkey, err := ledger.VerifierKey("medid.example/ledger", pub)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(vkey)
	// Output: medid.example/ledger+d33ff5f8+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop
}

func ExampleLog_Append() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ledger-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	l, err := ledger.Open(ctx, ledger.Config{
		Dir:    dir,
		Signer: ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)),
		Origin: "medid.example/ledger",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close(ctx)

	entry := []byte(`{"op":"create","did":"did:medid:123"}`)
	idx, err := l.Append(ctx, entry)
	if err != nil {
		log.Fatal(err)
	}
	cp, err := l.AwaitCheckpoint(ctx, idx)
	if err != nil {
		log.Fatal(err)
	}
	proof, err := l.InclusionProof(ctx, idx, cp.Size)
	if err != nil {
		log.Fatal(err)
	}
	// A client holding only the verifier key checks both.
	verified, err := ledger.VerifyCheckpoint(cp.Raw, l.VerifierKey())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(idx, verified.Size, ledger.VerifyInclusion(entry, idx, proof, verified))
	// Output: 0 1 <nil>
}
