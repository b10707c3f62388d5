package oidc

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/medid/medid/credentials/dcql"
	"github.com/medid/medid/did"
	"github.com/medid/medid/did/didjwk"
	"github.com/medid/medid/verifier/openid4vp"
)

// Presentations is what the provider needs of the OpenID4VP verifier: to
// start a presentation session for a query template, and to read its
// result. OpenID4VP adapts an *openid4vp.Service.
type Presentations interface {
	// Create starts a session for the named DCQL template
	// ("patient-identity") with purpose shown to the patient.
	Create(ctx context.Context, template, purpose string) (*Presentation, error)
	// Result returns the state of session id; when verified, the
	// patient's disclosed identity claims and DID.
	Result(ctx context.Context, id string) (*PresentationResult, error)
}

// Presentation is a started presentation session.
type Presentation struct {
	ID string
	// Link is the openid4vp:// authorization request, for a wallet on
	// this device.
	Link string
	// QRCodePNG is the URL of the request as a QR code image.
	QRCodePNG string
	ExpiresAt time.Time
}

// Presentation session states, as openid4vp reports them.
const (
	StatusPending  = openid4vp.StatusPending
	StatusVerified = openid4vp.StatusVerified
	StatusFailed   = openid4vp.StatusFailed
	StatusExpired  = openid4vp.StatusExpired
)

// PresentationResult is the state of a presentation session.
type PresentationResult struct {
	// Status is pending, verified, failed or expired.
	Status string
	// For a verified session: the claims of the verified
	// PatientIdentityCredential (only those disclosed), the patient's DID
	// and when the presentation was verified.
	Claims     map[string]any
	Subject    string
	VerifiedAt time.Time
	// Error is, for a failed session, why: the wallet's error code (such
	// as access_denied) or the verifier's (verification_failed,
	// query_not_satisfied); "" if not known.
	Error string
}

// Sessions is the part of *openid4vp.Service that OpenID4VP uses.
type Sessions interface {
	CreateSession(ctx context.Context, req openid4vp.SessionRequest) (*openid4vp.Session, error)
	Status(ctx context.Context, id string) (*openid4vp.Status, error)
}

// OpenID4VP adapts an OpenID4VP verifier (an *openid4vp.Service) to
// Presentations. Its sessions are cross-device sessions (the browser page
// polls for the result), and it reads the patient-identity credential
// query's verified presentation.
//
// The patient's DID is the credential's sub when that is a DID, otherwise
// the did:jwk of the key the credential is bound to (cnf.jwk): so the
// PresentationVerifier plugged into the service must keep sub or cnf in
// VerifiedPresentation.Claims.
type OpenID4VP struct{ Sessions Sessions }

// Create starts a cross-device session for template.
func (o OpenID4VP) Create(ctx context.Context, template, purpose string) (*Presentation, error) {
	s, err := o.Sessions.CreateSession(ctx, openid4vp.SessionRequest{Template: template, Purpose: purpose})
	if err != nil {
		return nil, err
	}
	return &Presentation{ID: s.ID, Link: s.AuthorizationRequest, QRCodePNG: s.QRCodePNG, ExpiresAt: s.ExpiresAt}, nil
}

// Result reads session id. A verified session without a presentation for
// the patient-identity query, or one that names no patient, is an error.
func (o OpenID4VP) Result(ctx context.Context, id string) (*PresentationResult, error) {
	st, err := o.Sessions.Status(ctx, id)
	if errors.Is(err, openid4vp.ErrSessionNotFound) {
		return nil, ErrPresentationNotFound
	}
	if err != nil {
		return nil, err
	}
	out := &PresentationResult{Status: st.Status}
	if st.Error != nil {
		out.Error = st.Error.Code
	}
	if st.Status != StatusVerified {
		return out, nil
	}
	vps := st.Credentials[dcql.PatientIdentityID]
	if len(vps) == 0 || vps[0] == nil {
		return nil, errors.New("oidc: the verified session holds no patient identity presentation")
	}
	out.Claims = vps[0].Claims
	if out.Subject, err = HolderDID(out.Claims); err != nil {
		return nil, err
	}
	if st.FinishedAt != nil {
		out.VerifiedAt = *st.FinishedAt
	}
	return out, nil
}

// HolderDID returns the DID of the patient a credential's verified claims
// describe: sub when it is a DID, otherwise the did:jwk of cnf.jwk.
func HolderDID(claims map[string]any) (string, error) {
	if s, ok := claims["sub"].(string); ok {
		if d, err := did.Parse(s); err == nil {
			return d.String(), nil
		}
	}
	cnf, ok := claims["cnf"].(map[string]any)
	if !ok {
		return "", errors.New("oidc: the credential names no holder (neither a DID sub nor cnf.jwk)")
	}
	key, ok := cnf["jwk"].(map[string]any)
	if !ok {
		return "", errors.New("oidc: the credential's cnf has no jwk")
	}
	b, err := json.Marshal(key)
	if err != nil {
		return "", err
	}
	d, err := didjwk.New(b)
	if err != nil {
		return "", fmt.Errorf("oidc: the holder key: %w", err)
	}
	return d.String(), nil
}

// PairwiseSubject is the sub a client in sector sees for the patient
// holderDID: base64url(HMAC-SHA256(secret, sector || 0x00 || DID)). The
// zero byte keeps sector and DID apart (a host name has none).
func PairwiseSubject(secret []byte, sector, holderDID string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(sector))
	m.Write([]byte{0})
	m.Write([]byte(holderDID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
