// Package ariesld wraps the one thing medid uses from aries-framework-go's
// JSON-LD signatures: Ed25519Signature2020 signing, kept for comparison
// with dataintegrity (benchmarks and cross-checks). No aries or json-gold
// type crosses its API, and aries always gets an offline document loader
// (without one its JSON-LD code panics).
package ariesld

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hyperledger/aries-framework-go/pkg/doc/signature/jsonld"
	"github.com/hyperledger/aries-framework-go/pkg/doc/signature/signer"
	"github.com/hyperledger/aries-framework-go/pkg/doc/signature/suite"
	"github.com/hyperledger/aries-framework-go/pkg/doc/signature/suite/ed25519signature2020"
	"github.com/piprate/json-gold/ld"

	medidld "github.com/medid/medid/credentials/jsonld"
)

// Signer signs with aries's Ed25519Signature2020 suite.
type Signer struct {
	signer *signer.DocumentSigner
	loader ld.DocumentLoader
}

// NewEd25519Signature2020 returns a Signer with key priv whose JSON-LD
// contexts come from l only.
func NewEd25519Signature2020(priv ed25519.PrivateKey, l *medidld.Loader) (*Signer, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("ariesld: not an Ed25519 private key")
	}
	docs := map[string]any{}
	for _, u := range l.URLs() {
		b, err := l.Document(u)
		if err != nil {
			return nil, err
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		docs[u] = v
	}
	s := ed25519signature2020.New(suite.WithSigner(edSigner(priv)))
	return &Signer{signer: signer.New(s), loader: offlineLoader(docs)}, nil
}

// Sign adds an Ed25519Signature2020 proof to doc.
func (s *Signer) Sign(doc []byte, verificationMethod string, created time.Time) ([]byte, error) {
	return s.signer.Sign(&signer.Context{
		SignatureType:      ed25519signature2020.SignatureType,
		VerificationMethod: verificationMethod,
		Created:            &created,
		Purpose:            "assertionMethod",
	}, doc, jsonld.WithDocumentLoader(s.loader))
}

type edSigner ed25519.PrivateKey

func (k edSigner) Sign(data []byte) ([]byte, error) {
	return ed25519.Sign(ed25519.PrivateKey(k), data), nil
}

func (edSigner) Alg() string { return "EdDSA" }

// offlineLoader serves the documents it holds and fails for anything else.
type offlineLoader map[string]any

func (o offlineLoader) LoadDocument(u string) (*ld.RemoteDocument, error) {
	v, ok := o[u]
	if !ok {
		return nil, fmt.Errorf("ariesld: context %q is not bundled", u)
	}
	return &ld.RemoteDocument{DocumentURL: u, Document: v}, nil
}
