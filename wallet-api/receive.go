package walletapi

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/credentials/status/bitstring"
	"github.com/medid/medid/did"
	"github.com/medid/medid/did/didjwk"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/wallet-api/vciclient"
)

// technicalClaims are SD-JWT VC claims that describe the credential rather
// than the patient; the claim view leaves them out.
var technicalClaims = []string{"iss", "iat", "nbf", "exp", "cnf", "vct", "vct#integrity", "status", "_sd_alg"}

// requestCredential gets the credentials of one configuration: a nonce, one
// proof per key, the credential request, and the verification of every
// credential returned. It returns the record to store (not stored yet) and
// the issuer's notification id.
func (s *Service) requestCredential(ctx context.Context, lo *loadedOffer, tok *vciclient.Token, cfgID string,
	cfg vciclient.Configuration, proofKeys []*keys.PrivateKey) (*credRecord, string, error) {
	creq := vciclient.CredentialRequest{ConfigurationID: cfgID}
	if len(proofKeys) > 0 {
		nonce := tok.CNonce
		if lo.md.NonceEndpoint != "" {
			n, err := s.vci.Nonce(ctx, lo.md.NonceEndpoint)
			if err != nil {
				return nil, "", issuerError("getting a nonce", err)
			}
			nonce = n
		}
		creq.Proofs = &vciclient.Proofs{}
		for _, k := range proofKeys {
			p, err := vciclient.Proof(k, lo.md.CredentialIssuer, nonce, s.now())
			if err != nil {
				return nil, "", err
			}
			creq.Proofs.JWT = append(creq.Proofs.JWT, p)
		}
	}
	resp, err := s.vci.Credential(ctx, lo.md.CredentialEndpoint, tok, creq)
	if err != nil {
		return nil, "", issuerError("requesting the credential", err)
	}
	if len(resp.Credentials) > max(len(proofKeys), 1) {
		return nil, resp.NotificationID, invalidCredential(fmt.Errorf("%d credentials for %d proofs", len(resp.Credentials), len(proofKeys)))
	}
	disp, claimDisp := cfg.DisplayInfo()
	now := s.now().UTC().Truncate(time.Second)
	rec := &credRecord{V: 1, ClaimDisplay: claimDisp, Display: displayRecord{IssuerDisplay: lo.md.Display, Display: disp},
		Summary: credSummary{ID: randomID(16), Format: cfg.Format, ConfigurationID: cfgID,
			CredentialIssuer: lo.md.CredentialIssuer, Type: configType(cfg), ReceivedAt: now}}
	used := map[string]bool{}
	for i, raw := range resp.Credentials {
		var vc *receivedVC
		var err error
		if cfg.Format == formatLDPVC {
			vc, err = s.verifyLDP(ctx, cfg, raw)
		} else {
			var compact string
			if err := json.Unmarshal(raw, &compact); err != nil {
				return nil, resp.NotificationID, invalidCredential(fmt.Errorf("credential %d is not a string", i))
			}
			vc, err = s.verifyReceived(ctx, cfg, compact)
		}
		var se *ServiceError
		if errors.As(err, &se) {
			return nil, resp.NotificationID, err
		}
		if err != nil {
			return nil, resp.NotificationID, invalidCredential(err)
		}
		cp := copyRecord{Credential: raw, Status: vc.status}
		if len(proofKeys) > 0 {
			k := keyFor(proofKeys, vc.holderThumb)
			if k == nil || used[vc.holderThumb] {
				return nil, resp.NotificationID, invalidCredential(errNoBinding)
			}
			used[vc.holderThumb] = true
			der, err := keys.ExportPKCS8(k)
			if err != nil {
				return nil, "", err
			}
			j, err := k.PublicJWKJSON()
			if err != nil {
				return nil, "", err
			}
			hd, err := didjwk.New(j)
			if err != nil {
				return nil, "", err
			}
			cp.Alg, cp.PKCS8, cp.HolderDID = k.Algorithm(), der, hd.String()
			if vc.holderDID != "" {
				// The credential's own spelling of the key's did:jwk.
				cp.HolderDID = vc.holderDID
			}
		}
		if i == 0 {
			rec.Claims, rec.Types = vc.claims, vc.types
			rec.Summary.Issuer, rec.Summary.IssuedAt, rec.Summary.ExpiresAt = vc.issuer, vc.issuedAt, vc.expiresAt
			if vc.typ != "" {
				rec.Summary.Type = vc.typ
			}
		} else if vc.issuer != rec.Summary.Issuer {
			return nil, resp.NotificationID, invalidCredential(fmt.Errorf("copies signed by different issuers"))
		}
		if vc.status != nil {
			rec.Summary.Status = append(rec.Summary.Status, *vc.status)
		}
		rec.Summary.Status = append(rec.Summary.Status, vc.bitstring...)
		rec.Summary.StatusUnchecked = rec.Summary.StatusUnchecked || vc.statusUnchecked
		rec.Copies = append(rec.Copies, cp)
	}
	rec.Summary.Copies = len(rec.Copies)
	return rec, resp.NotificationID, nil
}

func invalidCredential(cause error) error {
	return &ServiceError{Status: http.StatusBadGateway, Kind: "invalid-credential",
		Detail: "the issuer returned a credential the wallet could not verify; nothing was stored", Cause: cause}
}

func keyFor(ks []*keys.PrivateKey, thumb string) *keys.PrivateKey {
	for _, k := range ks {
		if k.Thumbprint() == thumb {
			return k
		}
	}
	return nil
}

// receivedVC is what verification of a received credential yields.
type receivedVC struct {
	issuer              string
	typ                 string
	issuedAt, expiresAt *time.Time
	claims              map[string]any
	holderThumb         string // "" when not key-bound
	status              *statusRef
	// bitstring are Bitstring Status List entries (VC data model).
	bitstring []statusRef
	// statusUnchecked: a status mechanism the wallet does not check.
	statusUnchecked bool
	// holderDID is the did:jwk an ldp_vc names as its subject; types are
	// its types.
	holderDID string
	types     []string
}

// verifyReceived verifies a credential just received: the issuer's
// signature (key resolved through the issuer's DID or JWT VC issuer
// metadata), validity times, its type against the configuration, and the
// holder binding.
func (s *Service) verifyReceived(ctx context.Context, cfg vciclient.Configuration, compact string) (*receivedVC, error) {
	switch cfg.Format {
	case "dc+sd-jwt", "vc+sd-jwt":
		v, err := sdjwt.Verify(ctx, compact, sdjwt.VerifyOptions{ExpectedTyp: cfg.Format, Now: s.opt.Now,
			IssuerKey: func(ctx context.Context, iss string, h sdjwt.Header) (crypto.PublicKey, error) {
				return s.issuerKey(ctx, iss, h.Kid, s.now())
			}})
		if err != nil {
			return nil, err
		}
		out := &receivedVC{claims: map[string]any{}}
		out.issuer, _ = v.Claims["iss"].(string)
		out.typ, _ = v.Claims["vct"].(string)
		if cfg.VCT != "" && out.typ != cfg.VCT {
			return nil, fmt.Errorf("vct %q is not the configuration's %q", out.typ, cfg.VCT)
		}
		out.issuedAt, out.expiresAt = numericTime(v.Claims["iat"]), numericTime(v.Claims["exp"])
		if v.Holder != nil {
			out.holderThumb, err = keys.ThumbprintOf(v.Holder)
			if err != nil {
				return nil, err
			}
		}
		if st, ok := v.Claims["status"].(map[string]any); ok {
			ref, err := parseStatusRef(st)
			if err != nil {
				return nil, err
			}
			out.status, out.statusUnchecked = ref, ref == nil
		}
		for k, val := range v.Claims {
			if !slices.Contains(technicalClaims, k) {
				out.claims[k] = val
			}
		}
		return out, nil
	case "jwt_vc_json":
		v, err := jwtvc.Verify(ctx, compact, jwtvc.VerifyOptions{Now: s.opt.Now,
			Key: func(ctx context.Context, iss, kid string, at time.Time) (crypto.PublicKey, error) {
				return s.issuerKey(ctx, iss, kid, at)
			}})
		if err != nil {
			return nil, err
		}
		out := &receivedVC{issuer: v.Issuer, claims: map[string]any{}}
		if !v.IssuedAt.IsZero() {
			t := v.IssuedAt.UTC()
			out.issuedAt = &t
		}
		if !v.ValidUntil.IsZero() {
			t := v.ValidUntil.UTC()
			out.expiresAt = &t
		}
		if types, ok := v.Credential["type"].([]any); ok {
			for _, t := range types {
				if ts, ok := t.(string); ok && ts != "VerifiableCredential" {
					out.typ = ts
				}
			}
		}
		if cs, ok := v.Credential["credentialStatus"]; ok {
			refs, unchecked, err := parseCredentialStatus(cs)
			if err != nil {
				return nil, err
			}
			out.bitstring, out.statusUnchecked = refs, unchecked
		}
		subject, _ := v.Credential["credentialSubject"].(map[string]any)
		for k, val := range subject {
			if k != "id" {
				out.claims[k] = val
			}
		}
		// Bound through cnf.jwk, or through the subject's did:jwk.
		var pub crypto.PublicKey
		if len(v.HolderJWK) > 0 {
			pub, _, err = keys.PublicKeyFromJWK(v.HolderJWK)
			if err != nil {
				return nil, fmt.Errorf("cnf.jwk: %w", err)
			}
		} else if id, _ := subject["id"].(string); id != "" {
			if pub, err = didJWKKey(ctx, id); err != nil {
				return nil, fmt.Errorf("credentialSubject.id: %w", err)
			}
		}
		if pub != nil {
			if out.holderThumb, err = keys.ThumbprintOf(pub); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported format %q", cfg.Format)
}

func parseStatusRef(st map[string]any) (*statusRef, error) {
	sl, ok := st["status_list"].(map[string]any)
	if !ok {
		return nil, nil // another status mechanism: not checked
	}
	uri, _ := sl["uri"].(string)
	var idx int64 = -1
	switch n := sl["idx"].(type) {
	case json.Number:
		idx, _ = strconv.ParseInt(n.String(), 10, 64)
	case float64:
		idx = int64(n)
	}
	if uri == "" || idx < 0 || idx > 1<<31 {
		return nil, fmt.Errorf("malformed status.status_list")
	}
	return &statusRef{URI: uri, Idx: int(idx)}, nil
}

// parseCredentialStatus reads a VC's credentialStatus (one entry or a
// list): Bitstring Status List entries are returned; any other type makes
// the status unchecked.
func parseCredentialStatus(cs any) ([]statusRef, bool, error) {
	items, ok := cs.([]any)
	if !ok {
		items = []any{cs}
	}
	var refs []statusRef
	unchecked := false
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, false, fmt.Errorf("malformed credentialStatus")
		}
		if m["type"] != bitstring.EntryType {
			unchecked = true
			continue
		}
		uri, _ := m["statusListCredential"].(string)
		idxS, _ := m["statusListIndex"].(string)
		purpose, _ := m["statusPurpose"].(string)
		idx, err := bitstring.ParseIndex(idxS)
		if err != nil || uri == "" {
			return nil, false, fmt.Errorf("malformed BitstringStatusListEntry")
		}
		if purpose != string(bitstring.Revocation) && purpose != string(bitstring.Suspension) {
			unchecked = true
			continue
		}
		refs = append(refs, statusRef{URI: uri, Idx: idx, Kind: kindBitstring, Purpose: purpose})
	}
	return refs, unchecked, nil
}

func numericTime(v any) *time.Time {
	var sec int64
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		if err != nil {
			return nil
		}
		sec = int64(f)
	case float64:
		sec = int64(n)
	default:
		return nil
	}
	t := time.Unix(sec, 0).UTC()
	return &t
}

// storeReceived stores a received credential and records it in history.
func (s *Service) storeReceived(ctx context.Context, a Account, rec *credRecord) error {
	v, err := s.vault(a)
	if err != nil {
		return err
	}
	if err := s.putCredential(ctx, v, a.ID, rec); err != nil {
		return err
	}
	return s.addHistory(ctx, a, historyRecord{Event: EventCredentialReceived, CredentialID: rec.Summary.ID,
		CredentialIssuer: rec.Summary.CredentialIssuer, ConfigurationID: rec.Summary.ConfigurationID,
		Name: displayName(rec.Display.Display, rec.Summary.ConfigurationID), Copies: rec.Summary.Copies})
}

// didJWKKey returns the key of a did:jwk (the only subject DID method the
// wallet binds credentials to).
func didJWKKey(ctx context.Context, s string) (crypto.PublicKey, error) {
	d, err := did.Parse(s)
	if err != nil {
		return nil, err
	}
	if d.Method() != didjwk.MethodName {
		return nil, fmt.Errorf("%s is not a did:jwk", d.Method())
	}
	res, err := didjwk.Method{}.Resolve(ctx, d, did.ResolutionOptions{})
	if err != nil {
		return nil, err
	}
	if len(res.Document.VerificationMethod) != 1 {
		return nil, fmt.Errorf("did:jwk document without its key")
	}
	return res.Document.VerificationMethod[0].PublicKey()
}
