package issuer

import (
	"context"
	"crypto"
	"encoding/json"

	"github.com/medid/medid/credentials/status/bitstring"
)

// Configuration is one entry of credential_configurations_supported: a
// credential type in one format.
type Configuration struct {
	ID     string // e.g. "PatientIdentityCredential_dc+sd-jwt"
	Format string // "dc+sd-jwt", "jwt_vc_json", …
	// VCT is the SD-JWT VC type (format dc+sd-jwt).
	VCT string
	// Types are the VC types (JWT and Data Integrity formats).
	Types []string
	// Display is the display metadata (name, description, locale).
	Display []Display
	// Claims describe the claims for wallets' display (credential_metadata).
	Claims []ClaimMetadata
	// SigningAlgs are the credential signing algorithms (e.g. ES256).
	SigningAlgs []string
	// ContextURL is the type's JSON-LD context and SchemaURL its JSON
	// Schema (credentialSchema), both served by the issuer.
	ContextURL, SchemaURL string
	// AlwaysVisible names claims an SD-JWT VC never makes selectively
	// disclosable.
	AlwaysVisible []string
}

// Display is a localised name and description.
type Display struct {
	Name        string `json:"name"`
	Locale      string `json:"locale,omitempty"`
	Description string `json:"description,omitempty"`
}

// ClaimMetadata describes one claim path for display.
type ClaimMetadata struct {
	Path      []any     `json:"path"`
	Mandatory bool      `json:"mandatory,omitempty"`
	Display   []Display `json:"display,omitempty"`
}

// Minter issues one credential of a configuration, bound to a holder key.
// Each call must use fresh salts and status entries, so that credentials
// of one batch cannot be linked.
type Minter interface {
	Mint(ctx context.Context, req MintRequest) (*Minted, error)
}

// MintRequest is what a Minter needs to issue one credential.
type MintRequest struct {
	Configuration Configuration
	Claims        map[string]any
	// Holder is the public key the wallet proved possession of; HolderJWK
	// is its public JWK.
	Holder    crypto.PublicKey
	HolderJWK json.RawMessage
}

// Minted is an issued credential and what the issuer records about it.
type Minted struct {
	// Credential is what goes into the credential response: a string for
	// JWT-based formats, a JSON object for Data Integrity.
	Credential any
	// ID identifies the credential in the issuance record.
	ID string
	// Status is the token status list entry, if any ("listID/index").
	Status string
	// Bitstring holds the Bitstring Status List entries, if any.
	Bitstring []bitstring.Entry
}
