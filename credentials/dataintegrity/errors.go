package dataintegrity

import "errors"

// The checks Sign and Verify make. Every error they return wraps exactly
// one of these (test with errors.Is); JSON-LD failures also wrap the
// credentials/jsonld error that names the term or context (errors.As with
// *jsonld.UnknownTermError or *jsonld.UnknownContextError).
var (
	// ErrMalformed: the document is not a JSON object, has no proof (or
	// more than one), or a proof member has the wrong JSON type.
	ErrMalformed = errors.New("dataintegrity: malformed document or proof")
	// ErrJSONLD: JSON-LD processing refused the document or the proof
	// configuration (unknown context, undefined term, invalid JSON-LD).
	ErrJSONLD = errors.New("dataintegrity: JSON-LD processing failed")
	// ErrUnsupportedCryptosuite: the proof type is not DataIntegrityProof
	// or the cryptosuite is not one this package implements.
	ErrUnsupportedCryptosuite = errors.New("dataintegrity: unsupported proof type or cryptosuite")
	// ErrProofValue: proofValue is not base58btc multibase of a signature
	// of the suite's length.
	ErrProofValue = errors.New("dataintegrity: malformed proofValue")
	// ErrOptions: the caller's Options or VerifyOptions are incomplete or
	// inconsistent (no verification method, no clock, wrong key type for
	// the cryptosuite when signing).
	ErrOptions = errors.New("dataintegrity: invalid options")
	// ErrKey: the key resolver failed, or returned a key that does not fit
	// the cryptosuite.
	ErrKey = errors.New("dataintegrity: verification key unavailable or unsuitable")
	// ErrPurpose: the proof's proofPurpose is not the one expected.
	ErrPurpose = errors.New("dataintegrity: wrong proof purpose")
	// ErrChallenge: the proof's challenge is not the one expected.
	ErrChallenge = errors.New("dataintegrity: wrong or missing challenge")
	// ErrDomain: the proof's domain is not the one expected.
	ErrDomain = errors.New("dataintegrity: wrong or missing domain")
	// ErrExpired: the proof's expires time has passed, or its created time
	// is in the future.
	ErrExpired = errors.New("dataintegrity: proof expired or not yet valid")
	// ErrSignature: the signature does not verify: the document or proof
	// was changed, or another key signed it.
	ErrSignature = errors.New("dataintegrity: signature does not verify")
)
