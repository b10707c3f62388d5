package issuer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/keys"
)

// VCAPI is the W3C VC-API issuing endpoint (POST /credentials/issue), for
// server-to-server issuance of VC Data Model 2.0 credentials.
type VCAPI struct {
	Keys KeySource
	// KeysFor, if set, returns the key for another issuer DID this server
	// holds keys for (credential.issuer); it returns ErrNoIssuerKey when the
	// server holds none.
	KeysFor func(ctx context.Context, issuerDID string, alg keys.Algorithm) (IssuerKey, error)
	// TokenStatus allocates Token Status List entries (dc+sd-jwt);
	// BitstringStatus allocates Bitstring Status List entries (the VC
	// Data Model formats). Either may be nil: no status.
	TokenStatus     StatusSource
	BitstringStatus BitstringSource
	// Recorder records each issued credential, as Options.Recorder does,
	// and refuses an id recorded already with ErrDuplicateID; Issued says
	// whether a credential id was issued already. An id the caller chose
	// must be new: it is checked with Issued before signing, and a request
	// that loses a race for the id to another gets 409 from Recorder.
	Recorder func(ctx context.Context, cfgID, holderThumbprint string, m *Minted) error
	Issued   func(ctx context.Context, id string) (bool, error)
	// SignDataIntegrity adds a Data Integrity proof with cryptosuite to
	// doc (ldp_vc); nil answers 501 for ldp_vc.
	SignDataIntegrity func(ctx context.Context, doc map[string]any, k IssuerKey, cryptosuite string) (map[string]any, error)
	// ValidateSubject checks the credentialSubject claims of a known
	// credential type (by the credential's type); nil accepts any.
	ValidateSubject func(types []string, subject map[string]any) error
	// VCT maps a credential type name to its SD-JWT VC type.
	VCT func(typ string) (string, bool)
	Now func() time.Time
}

// IssueRequest is the VC-API issue request.
type IssueRequest struct {
	Credential map[string]any `json:"credential"`
	Options    struct {
		Format      string `json:"format,omitempty"`
		Cryptosuite string `json:"cryptosuite,omitempty"`
	} `json:"options"`
}

const vcV2Context = "https://www.w3.org/ns/credentials/v2"

// Issue secures a credential in the requested format.
func (v *VCAPI) Issue(ctx context.Context, req *IssueRequest) (any, error) {
	c := req.Credential
	if c == nil {
		return nil, httpx.BadRequest("credential", "credential is required")
	}
	ctxs, _ := c["@context"].([]any)
	if len(ctxs) == 0 || ctxs[0] != vcV2Context {
		return nil, httpx.BadRequest("credential.@context", "must be an array starting with "+vcV2Context)
	}
	types := stringsOf(c["type"])
	if !slices.Contains(types, "VerifiableCredential") {
		return nil, httpx.BadRequest("credential.type", "must include VerifiableCredential")
	}
	subject, ok := c["credentialSubject"].(map[string]any)
	if !ok {
		return nil, httpx.BadRequest("credential.credentialSubject", "must be an object")
	}
	if _, ok := c["proof"]; ok {
		return nil, httpx.BadRequest("credential.proof", "the credential to issue must not carry a proof")
	}
	format, suite := req.Options.Format, req.Options.Cryptosuite
	switch format {
	case "":
		format = "ldp_vc"
	case "ldp_vc", "vc+jwt", "jwt_vc_json", "dc+sd-jwt":
	default:
		return nil, httpx.BadRequest("options.format", "unknown format; one of ldp_vc, vc+jwt, jwt_vc_json, dc+sd-jwt")
	}
	alg := keys.ES256
	if format == "ldp_vc" {
		switch suite {
		case "", EdDSARDFC2022:
			suite, alg = EdDSARDFC2022, keys.EdDSA
		case ECDSARDFC2019:
		default:
			return nil, httpx.BadRequest("options.cryptosuite", "unknown cryptosuite; one of "+EdDSARDFC2022+", "+ECDSARDFC2019)
		}
		if v.SignDataIntegrity == nil {
			return nil, &httpx.Error{Status: http.StatusNotImplemented, Kind: "unsupported-format", Field: "options.format",
				Detail: "Data Integrity proofs are not available on this server; ask for vc+jwt, jwt_vc_json or dc+sd-jwt"}
		}
	} else if suite != "" {
		return nil, httpx.BadRequest("options.cryptosuite", "a cryptosuite applies to ldp_vc only")
	}
	k, err := v.issuerKey(ctx, c["issuer"], alg)
	if err != nil {
		return nil, err
	}
	if v.ValidateSubject != nil {
		claims := map[string]any{}
		for n, val := range subject {
			if n != "id" {
				claims[n] = val
			}
		}
		if err := v.ValidateSubject(types, claims); err != nil {
			var ce *ClaimsError
			if errors.As(err, &ce) {
				field := "credential.credentialSubject"
				if ce.Field != "" {
					field += "." + ce.Field
				}
				return nil, httpx.Unprocessable("invalid-claims", field, err.Error())
			}
			return nil, err
		}
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now().UTC().Truncate(time.Second)
	id, _ := c["id"].(string)
	if id == "" {
		id = newCredentialID()
	} else if v.Issued != nil {
		dup, err := v.Issued(ctx, id)
		if err != nil {
			return nil, err
		}
		if dup {
			return nil, duplicateID()
		}
	}
	o := jwtvc.IssueOptions{Issuer: k.DID, KID: k.KID, Key: k.Key, IssuedAt: t, ValidFrom: t, ID: id}
	if s, ok := c["validUntil"].(string); ok {
		if o.ValidUntil, err = time.Parse(time.RFC3339, s); err != nil {
			return nil, httpx.BadRequest("credential.validUntil", "must be an RFC 3339 date-time")
		}
	}
	if _, ok := c["credentialStatus"]; ok {
		return nil, httpx.BadRequest("credential.credentialStatus", "status entries are allocated by the issuer; omit credentialStatus")
	}
	minted := &Minted{ID: id}
	var vct string
	if format == "dc+sd-jwt" {
		for _, typ := range types {
			if s, ok := v.VCT(typ); ok {
				vct = s
			}
		}
		if vct == "" {
			return nil, httpx.Unprocessable("unsupported-type", "credential.type", "dc+sd-jwt needs a credential type with an SD-JWT VC type (vct)")
		}
		if v.TokenStatus != nil {
			uri, idx, err := v.TokenStatus(ctx)
			if err != nil {
				return nil, fmt.Errorf("issuer: status entry: %w", err)
			}
			minted.Status = fmt.Sprintf("%s#%d", uri, idx)
		}
	} else if v.BitstringStatus != nil {
		if minted.Bitstring, err = v.BitstringStatus(ctx); err != nil {
			return nil, fmt.Errorf("issuer: status entry: %w", err)
		}
		c = copyMap(c)
		c["credentialStatus"] = statusValue(minted.Bitstring)
	}
	switch format {
	case "vc+jwt":
		minted.Credential, err = jwtvc.IssueVCJWT(c, o)
	case "jwt_vc_json":
		v1 := copyMap(c)
		v1["@context"] = append([]any{"https://www.w3.org/2018/credentials/v1"}, ctxs[1:]...)
		delete(v1, "validUntil")
		minted.Credential, err = jwtvc.IssueJWTVCJSON(v1, o)
	case "dc+sd-jwt":
		claims := copyMap(subject)
		if sid, ok := claims["id"].(string); ok {
			delete(claims, "id")
			claims["sub"] = sid
		}
		vc := sdjwt.VCClaims{VCT: vct, Issuer: k.DID, IssuedAt: t, Expires: o.ValidUntil, Claims: claims}
		if minted.Status != "" {
			uri, idx, _ := splitStatus(minted.Status)
			vc.Status = &sdjwt.StatusListRef{Index: idx, URI: uri}
		}
		var issued *sdjwt.Issued
		if issued, err = sdjwt.IssueVC(vc, sdjwt.Policy{}, sdjwt.IssueOptions{Key: k.Key, KeyID: k.KID}); err == nil {
			minted.Credential = issued.Compact()
		}
	case "ldp_vc":
		doc := copyMap(c)
		doc["issuer"], doc["id"], doc["validFrom"] = k.DID, id, t.Format(time.RFC3339)
		if !o.ValidUntil.IsZero() {
			doc["validUntil"] = o.ValidUntil.UTC().Format(time.RFC3339)
		}
		minted.Credential, err = v.SignDataIntegrity(ctx, doc, k, suite)
	}
	if err != nil {
		return nil, err
	}
	if v.Recorder != nil {
		sid, _ := subject["id"].(string)
		err := v.Recorder(ctx, "vcapi:"+primaryType(types)+"_"+format, sid, minted)
		if errors.Is(err, ErrDuplicateID) {
			// Another request with this id got there first: the credential
			// just signed is not handed out.
			return nil, duplicateID()
		}
		if err != nil {
			return nil, fmt.Errorf("issuer: record issuance: %w", err)
		}
	}
	return minted.Credential, nil
}

func duplicateID() error {
	e := httpx.Conflict("a credential with this id was issued already; omit id to get a new urn:uuid")
	e.Field = "credential.id"
	return e
}

// The Data Integrity cryptosuites ldp_vc offers.
const (
	EdDSARDFC2022 = "eddsa-rdfc-2022"
	ECDSARDFC2019 = "ecdsa-rdfc-2019"
)

// ErrNoIssuerKey reports an issuer DID this server holds no key for.
var ErrNoIssuerKey = errors.New("issuer: no key for that issuer")

// issuerKey picks the signing key for the credential's issuer (nil: the
// server's issuer DID).
func (v *VCAPI) issuerKey(ctx context.Context, iss any, alg keys.Algorithm) (IssuerKey, error) {
	k, err := v.Keys(ctx, alg)
	if err != nil {
		return IssuerKey{}, err
	}
	var want string
	switch x := iss.(type) {
	case nil:
		return k, nil
	case string:
		want = x
	case map[string]any:
		want, _ = x["id"].(string)
	}
	if want == "" {
		return IssuerKey{}, httpx.BadRequest("credential.issuer", "must be a DID, or an object with a DID id")
	}
	if want == k.DID {
		return k, nil
	}
	if v.KeysFor != nil {
		other, err := v.KeysFor(ctx, want, alg)
		if err == nil {
			return other, nil
		}
		if !errors.Is(err, ErrNoIssuerKey) {
			return IssuerKey{}, err
		}
	}
	return IssuerKey{}, httpx.Unprocessable("unknown-issuer", "credential.issuer",
		fmt.Sprintf("this server holds no %s key for %s; omit issuer to use %s", alg, want, k.DID))
}

// primaryType is the most specific type of a credential, for records.
func primaryType(types []string) string {
	for i := len(types) - 1; i >= 0; i-- {
		if types[i] != "VerifiableCredential" {
			return types[i]
		}
	}
	return "VerifiableCredential"
}

// Register adds POST /credentials/issue behind admin.
func (v *VCAPI) Register(e *echo.Group, admin echo.MiddlewareFunc) {
	e.POST("/credentials/issue", func(c echo.Context) error {
		var req IssueRequest
		if err := httpx.DecodeJSON(c.Request(), httpx.MaxJSONBody, &req); err != nil {
			return err
		}
		vc, err := v.Issue(c.Request().Context(), &req)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, map[string]any{"verifiableCredential": vc})
	}, admin)
}

func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
