package did

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
)

// The JSON encoders below write documents and resolution results without
// reflection: resolving is medid's hottest path and encoding/json spends
// most of its time re-validating the output of nested MarshalJSON methods.
// Their output is byte-for-byte what encoding/json would produce for the
// equivalent tagged structs (strings and raw values HTML-escaped, raw
// values compacted); the tests check that against a reflection-based
// reference.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does
// (with HTML escaping; invalid UTF-8 becomes U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendStrings appends ss as a JSON array of strings (null when nil).
func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendRaw appends a raw JSON value, compacted and HTML-escaped. It fails
// if raw is not valid JSON.
func appendRaw(b []byte, raw []byte) ([]byte, error) {
	plain := true
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r', '<', '>', '&', 0xe2: // 0xe2 starts U+2028 and U+2029
			plain = false
		}
		if !plain {
			break
		}
	}
	if plain {
		if !json.Valid(raw) {
			return b, errors.New("did: invalid raw JSON value")
		}
		return append(b, raw...), nil
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return b, err
	}
	out := bytes.NewBuffer(b)
	json.HTMLEscape(out, compact.Bytes())
	return out.Bytes(), nil
}

// appendJSON appends the JSON form of d.
func (d *Document) appendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"@context":`...)
	if len(d.Context) == 0 {
		b = append(b, defaultContext...)
	} else if b, err = appendRaw(b, d.Context); err != nil {
		return nil, err
	}
	b = append(b, `,"id":`...)
	b = appendString(b, d.ID)
	switch len(d.Controller) {
	case 0:
	case 1:
		b = append(b, `,"controller":`...)
		b = appendString(b, d.Controller[0])
	default:
		b = append(b, `,"controller":`...)
		b = appendStrings(b, d.Controller)
	}
	if len(d.AlsoKnownAs) > 0 {
		b = append(b, `,"alsoKnownAs":`...)
		b = appendStrings(b, d.AlsoKnownAs)
	}
	if len(d.VerificationMethod) > 0 {
		b = append(b, `,"verificationMethod":[`...)
		for i := range d.VerificationMethod {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = d.VerificationMethod[i].appendJSON(b); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	for _, rel := range [...]struct {
		name string
		list []Relationship
	}{
		{`,"authentication":[`, d.Authentication},
		{`,"assertionMethod":[`, d.AssertionMethod},
		{`,"keyAgreement":[`, d.KeyAgreement},
		{`,"capabilityInvocation":[`, d.CapabilityInvocation},
		{`,"capabilityDelegation":[`, d.CapabilityDelegation},
	} {
		if len(rel.list) == 0 {
			continue
		}
		b = append(b, rel.name...)
		for i, r := range rel.list {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = r.appendJSON(b); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	if len(d.Service) > 0 {
		b = append(b, `,"service":[`...)
		for i := range d.Service {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = d.Service[i].appendJSON(b); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// appendJSON appends the JSON form of vm.
func (vm *VerificationMethod) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, vm.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, vm.Type)
	b = append(b, `,"controller":`...)
	b = appendString(b, vm.Controller)
	if len(vm.PublicKeyJwk) > 0 {
		b = append(b, `,"publicKeyJwk":`...)
		var err error
		if b, err = appendRaw(b, vm.PublicKeyJwk); err != nil {
			return nil, err
		}
	}
	if vm.PublicKeyMultibase != "" {
		b = append(b, `,"publicKeyMultibase":`...)
		b = appendString(b, vm.PublicKeyMultibase)
	}
	return append(b, '}'), nil
}

// appendJSON appends the JSON form of r.
func (r Relationship) appendJSON(b []byte) ([]byte, error) {
	if r.Embedded != nil {
		return r.Embedded.appendJSON(b)
	}
	return appendString(b, r.Reference), nil
}

// appendJSON appends the JSON form of s.
func (s *Service) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, s.ID)
	b = append(b, `,"type":`...)
	if len(s.Type) == 1 {
		b = appendString(b, s.Type[0])
	} else {
		b = appendStrings(b, s.Type)
	}
	b = append(b, `,"serviceEndpoint":`...)
	if len(s.ServiceEndpoint) == 0 {
		b = append(b, "null"...)
	} else {
		var err error
		if b, err = appendRaw(b, s.ServiceEndpoint); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendTimeMember appends `,"name":"<RFC 3339 UTC>"` if t is set.
func appendTimeMember(b []byte, sep *bool, name string, t *time.Time) []byte {
	if t == nil {
		return b
	}
	b = appendSep(b, sep)
	b = append(b, name...)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

// appendSep appends a ',' before every member but the first.
func appendSep(b []byte, sep *bool) []byte {
	if *sep {
		b = append(b, ',')
	}
	*sep = true
	return b
}

// appendJSON appends the JSON form of m.
func (m *DocumentMetadata) appendJSON(b []byte) []byte {
	sep := false
	b = append(b, '{')
	b = appendTimeMember(b, &sep, `"created":`, m.Created)
	b = appendTimeMember(b, &sep, `"updated":`, m.Updated)
	if m.Deactivated {
		b = appendSep(b, &sep)
		b = append(b, `"deactivated":true`...)
	}
	if m.VersionID != "" {
		b = appendSep(b, &sep)
		b = append(b, `"versionId":`...)
		b = appendString(b, m.VersionID)
	}
	b = appendTimeMember(b, &sep, `"nextUpdate":`, m.NextUpdate)
	if m.NextVersionID != "" {
		b = appendSep(b, &sep)
		b = append(b, `"nextVersionId":`...)
		b = appendString(b, m.NextVersionID)
	}
	if len(m.EquivalentID) > 0 {
		b = appendSep(b, &sep)
		b = append(b, `"equivalentId":`...)
		b = appendStrings(b, m.EquivalentID)
	}
	if m.CanonicalID != "" {
		b = appendSep(b, &sep)
		b = append(b, `"canonicalId":`...)
		b = appendString(b, m.CanonicalID)
	}
	if p := m.LedgerProof; p != nil {
		b = appendSep(b, &sep)
		b = append(b, `"ledgerProof":{"logOrigin":`...)
		b = appendString(b, p.LogOrigin)
		b = append(b, `,"logIndex":`...)
		b = strconv.AppendUint(b, p.LogIndex, 10)
		b = append(b, `,"leafHash":`...)
		b = appendString(b, p.LeafHash)
		b = append(b, `,"entry":`...)
		b = appendString(b, p.Entry)
		b = append(b, `,"treeSize":`...)
		b = strconv.AppendUint(b, p.TreeSize, 10)
		b = append(b, `,"inclusionProof":`...)
		b = appendStrings(b, p.InclusionProof)
		b = append(b, `,"checkpoint":`...)
		b = appendString(b, p.Checkpoint)
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendJSON appends the JSON form of m.
func (m *ResolutionMetadata) appendJSON(b []byte) []byte {
	sep := false
	b = append(b, '{')
	for _, f := range [...]struct{ name, value string }{
		{`"contentType":`, m.ContentType},
		{`"error":`, m.Error},
		{`"errorMessage":`, m.ErrorMessage},
	} {
		if f.value != "" {
			b = appendSep(b, &sep)
			b = append(b, f.name...)
			b = appendString(b, f.value)
		}
	}
	return append(b, '}')
}

// appendJSON appends the JSON form of r.
func (r *Result) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"@context":"`+ResolutionContext+`","didDocument":`...)
	if r.Document == nil {
		b = append(b, "null"...)
	} else {
		var err error
		if b, err = r.Document.appendJSON(b); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"didDocumentMetadata":`...)
	b = r.DocumentMetadata.appendJSON(b)
	b = append(b, `,"didResolutionMetadata":`...)
	b = r.ResolutionMetadata.appendJSON(b)
	return append(b, '}'), nil
}
