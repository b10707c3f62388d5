package walletapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/wallet-api/vciclient"
)

// OfferRequest is POST /wallet/offers.
type OfferRequest struct {
	// Offer is the credential offer link (openid-credential-offer://…).
	Offer string `json:"offer"`
	// TxCode is the transaction code the issuer gave the patient, when the
	// offer asks for one.
	TxCode string `json:"tx_code,omitempty"`
	// Accept runs the issuance; without it the offer is only previewed.
	Accept bool `json:"accept,omitempty"`
	// KeyID binds the first copy of each credential to this holder key
	// (its id from GET /wallet/keys) instead of a fresh key.
	KeyID string `json:"key_id,omitempty"`

	// single asks for one copy, bound to KeyID's key (consents: the copy
	// a verifier sees must be the patient's).
	single bool
}

// OfferPreview is what an offer would give, before accepting it.
type OfferPreview struct {
	CredentialIssuer string              `json:"credential_issuer"`
	IssuerDisplay    []vciclient.Display `json:"issuer_display,omitempty"`
	Credentials      []OfferedCredential `json:"credentials"`
	// TxCodeRequired says accepting needs the transaction code the issuer
	// sent by another channel; TxCode describes it.
	TxCodeRequired bool              `json:"tx_code_required"`
	TxCode         *vciclient.TxCode `json:"tx_code,omitempty"`
	// Copies is how many copies of each credential accepting asks for.
	Copies int `json:"copies"`
}

// OfferedCredential is one credential configuration of an offer.
type OfferedCredential struct {
	ConfigurationID string                       `json:"credential_configuration_id"`
	Format          string                       `json:"format"`
	Type            string                       `json:"type,omitempty"`
	Name            string                       `json:"name"`
	Display         []vciclient.Display          `json:"display,omitempty"`
	Claims          []vciclient.ClaimDescription `json:"claims,omitempty"`
	// Supported is false for a format this wallet cannot hold.
	Supported bool `json:"supported"`
}

// Accepted is the result of accepting an offer: the stored credentials.
type Accepted struct {
	Credentials []Credential `json:"credentials"`
}

// supportedFormats are the credential formats the wallet verifies and holds.
var supportedFormats = []string{"dc+sd-jwt", "vc+sd-jwt", "jwt_vc_json", formatLDPVC}

// loadedOffer is an offer with its issuer's metadata.
type loadedOffer struct {
	offer *vciclient.CredentialOffer
	md    *vciclient.IssuerMetadata
}

func (s *Service) loadOffer(ctx context.Context, link string) (*loadedOffer, error) {
	if link == "" {
		return nil, fieldErr("offer", "the credential offer link is required")
	}
	l, err := vciclient.ParseOfferLink(link)
	if err != nil {
		return nil, fieldErr("offer", "%s", strings.TrimPrefix(err.Error(), "vciclient: "))
	}
	if l.URI != "" {
		if _, err := s.vci.CheckURL(l.URI); err != nil {
			return nil, &ServiceError{Status: http.StatusUnprocessableEntity, Kind: "insecure-url", Field: "offer",
				Detail: "the offer's credential_offer_uri must be an https URL", Cause: err}
		}
	}
	fctx, cancel := context.WithTimeout(ctx, s.opt.FetchTimeout)
	defer cancel()
	offer, err := s.vci.ResolveOffer(fctx, l)
	if err != nil {
		return nil, issuerError("fetching the offer", err)
	}
	if _, err := s.vci.CheckURL(offer.CredentialIssuer); err != nil {
		return nil, &ServiceError{Status: http.StatusUnprocessableEntity, Kind: "insecure-url", Field: "offer",
			Detail: "the offer's credential_issuer must be an https URL", Cause: err}
	}
	md, err := s.vci.IssuerMetadata(fctx, offer.CredentialIssuer)
	if err != nil {
		return nil, issuerError("fetching the issuer metadata", err)
	}
	for _, id := range offer.ConfigurationIDs {
		if _, ok := md.Configurations[id]; !ok {
			return nil, &ServiceError{Status: http.StatusBadGateway, Kind: "issuer-error",
				Detail: fmt.Sprintf("the offer names configuration %q, which the issuer's metadata does not describe", id)}
		}
	}
	return &loadedOffer{offer: offer, md: md}, nil
}

// issuerError maps an error talking to an issuer to what the patient sees.
func issuerError(what string, err error) error {
	var ve *vciclient.Error
	switch {
	case errors.As(err, &ve) && what == "fetching the offer" && (ve.Status == http.StatusNotFound || ve.Status == http.StatusGone):
		return &ServiceError{Status: http.StatusUnprocessableEntity, Kind: "offer-unavailable", Field: "offer",
			Detail: "the issuer no longer has this offer: it expired or was already redeemed", Cause: err}
	case errors.As(err, &ve) && ve.Status >= 400 && ve.Status < 500 && ve.Endpoint == "token":
		d := "the issuer refused the offer"
		if ve.Description != "" {
			d += ": " + ve.Description
		}
		return &ServiceError{Status: http.StatusUnprocessableEntity, Kind: "offer-rejected", Detail: d, Cause: err}
	case errors.As(err, &ve) && ve.Status >= 400 && ve.Status < 500:
		d := "the issuer refused the request while " + what
		if ve.Description != "" {
			d += ": " + ve.Description
		}
		return &ServiceError{Status: http.StatusBadGateway, Kind: "issuer-error", Detail: d, Cause: err}
	case errors.Is(err, vciclient.ErrMalformedOffer):
		return &ServiceError{Status: http.StatusUnprocessableEntity, Kind: "invalid-offer", Field: "offer",
			Detail: strings.TrimPrefix(err.Error(), "vciclient: "), Cause: err}
	case errors.Is(err, vciclient.ErrInsecureURL):
		return &ServiceError{Status: http.StatusBadGateway, Kind: "issuer-error",
			Detail: "the issuer points the wallet at a URL that is not https", Cause: err}
	case errors.Is(err, vciclient.ErrMetadata):
		return &ServiceError{Status: http.StatusBadGateway, Kind: "issuer-error",
			Detail: "the issuer's metadata is not acceptable: " + strings.TrimPrefix(err.Error(), "vciclient: unacceptable metadata: "), Cause: err}
	case errors.Is(err, vciclient.ErrDeferred):
		return &ServiceError{Status: http.StatusBadGateway, Kind: "issuer-error",
			Detail: "the issuer deferred issuance, which this wallet does not support yet", Cause: err}
	case errors.Is(err, context.Canceled):
		return err
	}
	return &ServiceError{Status: http.StatusBadGateway, Kind: "issuer-unavailable",
		Detail: "the issuer could not be reached or did not answer properly while " + what, Cause: err}
}

// PreviewOffer resolves an offer and its issuer metadata and describes
// what it offers, without redeeming anything.
func (s *Service) PreviewOffer(ctx context.Context, a Account, link string) (*OfferPreview, error) {
	lo, err := s.loadOffer(ctx, link)
	if err != nil {
		return nil, err
	}
	p := &OfferPreview{CredentialIssuer: lo.offer.CredentialIssuer, IssuerDisplay: lo.md.Display,
		Copies: min(s.opt.Copies, lo.md.BatchSize()), Credentials: []OfferedCredential{}}
	if g := lo.offer.Grants.PreAuthorized; g != nil && g.TxCode != nil {
		p.TxCodeRequired, p.TxCode = true, g.TxCode
	}
	for _, id := range lo.offer.ConfigurationIDs {
		cfg := lo.md.Configurations[id]
		disp, claims := cfg.DisplayInfo()
		p.Credentials = append(p.Credentials, OfferedCredential{ConfigurationID: id, Format: cfg.Format,
			Type: configType(cfg), Name: displayName(disp, id), Display: disp, Claims: claims,
			Supported: s.canHold(id, cfg) == nil})
	}
	return p, nil
}

// canHold refuses a configuration the wallet cannot hold: a format it
// does not verify, or an ldp_vc whose credential_definition names a
// JSON-LD context it does not know.
func (s *Service) canHold(id string, cfg vciclient.Configuration) error {
	if !slices.Contains(supportedFormats, cfg.Format) {
		return &ServiceError{Status: http.StatusUnprocessableEntity, Kind: "unsupported-credential", Field: "offer",
			Detail: fmt.Sprintf("the wallet cannot hold credentials of format %q (configuration %q)", cfg.Format, id)}
	}
	if cfg.Format == formatLDPVC {
		return s.checkContexts(cfg.CredentialDefinition.ContextURLs(), "nothing was redeemed")
	}
	return nil
}

func configType(cfg vciclient.Configuration) string {
	if cfg.VCT != "" {
		return cfg.VCT
	}
	if cfg.CredentialDefinition != nil {
		for _, t := range slices.Backward(cfg.CredentialDefinition.Type) {
			if t != "VerifiableCredential" {
				return t
			}
		}
	}
	return ""
}

// checkTxCode checks the patient's transaction code against the offer's
// description before it is sent: at our issuer (and others) a wrong code
// spends the offer, so a typo is caught here.
func checkTxCode(g *vciclient.PreAuthorizedGrant, tx string) error {
	if g.TxCode == nil {
		if tx != "" {
			return fieldErr("tx_code", "this offer does not use a transaction code")
		}
		return nil
	}
	switch {
	case tx == "":
		return fieldErr("tx_code", "this offer needs the transaction code the issuer sent you")
	case len(tx) > 256 || !utf8.ValidString(tx):
		return fieldErr("tx_code", "the transaction code is too long")
	case g.TxCode.Length > 0 && utf8.RuneCountInString(tx) != g.TxCode.Length:
		return fieldErr("tx_code", "the transaction code must be %d characters", g.TxCode.Length)
	case g.TxCode.InputMode == "" || g.TxCode.InputMode == "numeric":
		for _, c := range tx {
			if c < '0' || c > '9' {
				return fieldErr("tx_code", "the transaction code is numeric")
			}
		}
	}
	return nil
}

// AcceptOffer runs the pre-authorized code flow for an offer and stores the
// credentials: it redeems the code (with txCode), then for each offered
// configuration gets a c_nonce, signs one key proof per copy and requests
// the credentials, verifies each (issuer signature, binding to the proved
// key, type) and stores them with their keys.
//
// Copies: when the issuer offers batch issuance the wallet asks for
// min(Options.Copies, batch_size) copies, each bound to its own fresh key,
// so that presenting one copy to one verifier and another to a second
// cannot be linked by the key (our issuer also refuses a repeated key in a
// batch). With keyID, the first copy is bound to that holder key instead.
func (s *Service) AcceptOffer(ctx context.Context, a Account, req OfferRequest) (*Accepted, error) {
	var holder *keys.PrivateKey
	if req.KeyID != "" {
		k, err := s.privateKey(ctx, a, req.KeyID)
		if errors.Is(err, ErrNotFound) {
			return nil, fieldErr("key_id", "no holder key with this id in this wallet")
		}
		if err != nil {
			return nil, err
		}
		holder = k
	}
	lo, err := s.loadOffer(ctx, req.Offer)
	if err != nil {
		return nil, err
	}
	g := lo.offer.Grants.PreAuthorized
	if g == nil {
		return nil, &ServiceError{Status: http.StatusUnprocessableEntity, Kind: "unsupported-offer", Field: "offer",
			Detail: "the offer has no pre-authorized code; the authorization code flow is not supported yet"}
	}
	if err := checkTxCode(g, req.TxCode); err != nil {
		return nil, err
	}
	// Check every configuration before anything is redeemed.
	type plan struct {
		id   string
		cfg  vciclient.Configuration
		keys []*keys.PrivateKey
	}
	var plans []plan
	for _, id := range lo.offer.ConfigurationIDs {
		cfg := lo.md.Configurations[id]
		if err := s.canHold(id, cfg); err != nil {
			return nil, err
		}
		n := min(s.opt.Copies, lo.md.BatchSize())
		if req.single {
			n = 1
		}
		ks, err := s.proofKeys(cfg, n, holder)
		if err != nil {
			return nil, err
		}
		plans = append(plans, plan{id: id, cfg: cfg, keys: ks})
	}
	fctx, cancel := context.WithTimeout(ctx, 3*s.opt.FetchTimeout)
	defer cancel()
	as, err := vciclient.AuthorizationServer(lo.md, g)
	if err != nil {
		return nil, issuerError("finding the authorization server", err)
	}
	asmd, err := s.vci.AuthServerMetadata(fctx, as)
	if err != nil {
		return nil, issuerError("fetching the authorization server metadata", err)
	}
	tok, err := s.vci.RedeemPreAuthorized(fctx, asmd.TokenEndpoint, g.Code, req.TxCode)
	if err != nil {
		return nil, issuerError("redeeming the offer", err)
	}
	out := &Accepted{Credentials: []Credential{}}
	for _, p := range plans {
		rec, notif, err := s.requestCredential(fctx, lo, tok, p.id, p.cfg, p.keys)
		if err != nil {
			s.notify(ctx, lo.md, tok, notif, "credential_failure")
			return out, err
		}
		if err := s.storeReceived(ctx, a, rec); err != nil {
			s.notify(ctx, lo.md, tok, notif, "credential_failure")
			return out, err
		}
		s.notify(ctx, lo.md, tok, notif, "credential_accepted")
		refs := map[statusKey]bool{}
		for _, r := range rec.Summary.Status {
			refs[statusKey{r.URI, rec.Summary.Issuer, r.Kind}] = true
		}
		s.ensureLists(ctx, refs)
		out.Credentials = append(out.Credentials, s.view(&rec.Summary, &rec.Display, s.now()))
	}
	return out, nil
}

// proofKeys returns the keys to prove for n copies of cfg: holder (if set)
// for the first, fresh keys for the rest, all of an algorithm the issuer
// accepts for proofs. A configuration without key proofs gets none.
func (s *Service) proofKeys(cfg vciclient.Configuration, n int, holder *keys.PrivateKey) ([]*keys.PrivateKey, error) {
	algs := cfg.ProofAlgs()
	if len(algs) == 0 {
		if cfg.ProofTypes != nil {
			return nil, &ServiceError{Status: http.StatusUnprocessableEntity, Kind: "unsupported-credential",
				Detail: "the issuer asks for a kind of key proof this wallet cannot make (only jwt)"}
		}
		return nil, nil
	}
	var alg keys.Algorithm
	switch {
	case holder != nil:
		alg = holder.Algorithm()
		if !slices.Contains(algs, string(alg)) {
			return nil, fieldErr("key_id", "the issuer does not accept %s keys", alg)
		}
	case slices.Contains(algs, string(keys.ES256)):
		alg = keys.ES256
	case slices.Contains(algs, string(keys.EdDSA)):
		alg = keys.EdDSA
	default:
		return nil, &ServiceError{Status: http.StatusUnprocessableEntity, Kind: "unsupported-credential",
			Detail: "the issuer accepts neither ES256 nor EdDSA key proofs"}
	}
	out := make([]*keys.PrivateKey, 0, n)
	if holder != nil {
		out = append(out, holder)
	}
	for len(out) < n {
		k, err := keys.Generate(alg)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

func (s *Service) notify(ctx context.Context, md *vciclient.IssuerMetadata, tok *vciclient.Token, id, event string) {
	if md.NotificationEndpoint == "" || id == "" {
		return
	}
	nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opt.FetchTimeout)
	defer cancel()
	if err := s.vci.Notify(nctx, md.NotificationEndpoint, tok, id, event); err != nil {
		s.opt.Logger.DebugContext(ctx, "issuer notification failed", "event", event, "error", err)
	}
}
