package health

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on the length of text claims, in Unicode code points.
const (
	maxText      = 256  // names, identifier values, address parts
	maxLongText  = 1024 // address.formatted
	maxURI       = 1024 // identifier and coding systems
	maxCode      = 64   // role codes
	maxLicenceNo = 64
)

// Date is a calendar date without a time zone (an ISO 8601 / RFC 3339
// full-date, "YYYY-MM-DD"), as OpenID Connect's birthdate and FHIR's date.
// Its JSON form is that string. The zero Date is not a valid date; test for
// it with IsZero.
type Date struct {
	year  int
	month time.Month
	day   int
}

// ParseDate parses s as YYYY-MM-DD. The year must have four digits and the
// date must exist (no 2023-02-29).
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return Date{}, errors.New("not a YYYY-MM-DD date")
	}
	for i := 0; i < len(s); i++ {
		if i != 4 && i != 7 && (s[i] < '0' || s[i] > '9') {
			return Date{}, errors.New("not a YYYY-MM-DD date")
		}
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, errors.New("not a real calendar date")
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

// DateOf returns the date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// String returns d as YYYY-MM-DD, or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.year, int(d.month), d.day)
}

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.year != e.year:
		return cmpInt(d.year, e.year)
	case d.month != e.month:
		return cmpInt(int(d.month), int(e.month))
	default:
		return cmpInt(d.day, e.day)
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// MarshalText implements encoding.TextMarshaler. The zero Date marshals as
// empty text.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseDate. Empty
// text unmarshals to the zero Date, so callers decoding a required date
// must check IsZero.
func (d *Date) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*d = Date{}
		return nil
	}
	p, err := ParseDate(string(text))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// IdentifierType says what kind of identifier an Identifier is. Each
// credential type accepts its own subset (see the constants). The
// comments give the closest HL7 v2 table 0203 code, for mapping to FHIR
// Identifier.type.
type IdentifierType string

// Identifier types.
const (
	// Patients.
	IdentifierMRN             IdentifierType = "MRN"              // medical record number (v2-0203 MR)
	IdentifierNHI             IdentifierType = "NHI"              // national health identifier (v2-0203 NH / NI)
	IdentifierInsuranceMember IdentifierType = "INSURANCE_MEMBER" // health insurance member number (v2-0203 MB)
	IdentifierNationalID      IdentifierType = "NATIONAL_ID"      // national person identifier (v2-0203 NI)

	// Practitioners and organizations.
	IdentifierNPI              IdentifierType = "NPI"               // US National Provider Identifier (v2-0203 NPI)
	IdentifierNationalRegister IdentifierType = "NATIONAL_REGISTER" // a national or regional register of professionals or providers (v2-0203 PRN / XX)
)

// NPISystem is the FHIR identifier system of US National Provider
// Identifiers.
const NPISystem = "http://hl7.org/fhir/sid/us-npi"

var (
	patientIdentifierTypes  = []IdentifierType{IdentifierMRN, IdentifierNHI, IdentifierInsuranceMember, IdentifierNationalID}
	providerIdentifierTypes = []IdentifierType{IdentifierNPI, IdentifierNationalRegister}
)

// Identifier is a business identifier, as a FHIR Identifier: the system
// (namespace) that issued it, its value in that system, and its kind.
type Identifier struct {
	// System is an absolute URI ("http://hl7.org/fhir/sid/us-npi",
	// "https://hospital.example/mrn") or an OID as "urn:oid:1.2.3".
	System string `json:"system"`
	// Value is the identifier within System.
	Value string `json:"value"`
	// Type is the kind of identifier.
	Type IdentifierType `json:"type"`
}

// validateIdentifiers checks a required, non-empty list of identifiers
// whose types must be among allowed.
func validateIdentifiers(c *collector, field string, ids []Identifier, allowed []IdentifierType) {
	if len(ids) == 0 {
		c.add(field, "at least one identifier is required")
		return
	}
	seen := map[[2]string]bool{}
	for i, id := range ids {
		p := index(field, i)
		if reason := checkSystem(id.System); reason != "" {
			c.add(join(p, "system"), reason)
		}
		checkText(c, join(p, "value"), id.Value, maxText, false)
		typeOK := false
		switch {
		case id.Type == "":
			c.add(join(p, "type"), "required")
		case !slices.Contains(allowed, id.Type):
			c.add(join(p, "type"), "not an identifier type of this credential (want one of "+list(allowed)+")")
		default:
			typeOK = true
		}
		isNPISystem := id.System == NPISystem
		switch {
		case isNPISystem && !slices.Contains(allowed, IdentifierNPI):
			c.add(join(p, "system"), "NPIs identify providers, not patients")
		case !typeOK:
		case id.Type == IdentifierNPI && !isNPISystem:
			c.add(join(p, "system"), "an NPI must have the system "+NPISystem)
		case isNPISystem && id.Type != IdentifierNPI:
			c.add(join(p, "type"), "an identifier in the NPI system must have type NPI")
		}
		if (isNPISystem || typeOK && id.Type == IdentifierNPI) && id.Value != "" && !ValidNPI(id.Value) {
			c.add(join(p, "value"), "not a valid NPI (10 digits with a correct check digit)")
		}
		key := [2]string{id.System, id.Value}
		if id.System != "" && id.Value != "" && seen[key] {
			c.add(p, "duplicate identifier (same system and value as an earlier one)")
		}
		seen[key] = true
	}
}

// checkSystem returns why s is not an acceptable identifier or code system
// URI, or "".
func checkSystem(s string) string {
	switch {
	case s == "":
		return "required"
	case utf8.RuneCountInString(s) > maxURI:
		return fmt.Sprintf("longer than %d characters", maxURI)
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || unicode.IsSpace(r) {
			return "white space or control character in a URI"
		}
	}
	if rest, ok := strings.CutPrefix(s, "urn:oid:"); ok {
		if !isOID(rest) {
			return "not a valid OID after urn:oid:"
		}
		return ""
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme == "" || u.Opaque == "" && u.Host == "" && u.Path == "":
		return "not an absolute URI or urn:oid: OID"
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host == "":
		return "an http(s) URI needs a host"
	case u.Fragment != "":
		return "a system URI must not have a fragment"
	}
	return ""
}

// isOID reports whether s is a dotted OID: arcs of digits without leading
// zeros, the first 0, 1 or 2, at least two arcs.
func isOID(s string) bool {
	arcs := strings.Split(s, ".")
	if len(arcs) < 2 || len(arcs[0]) != 1 || arcs[0][0] > '2' {
		return false
	}
	for _, a := range arcs {
		if a == "" || len(a) > 1 && a[0] == '0' {
			return false
		}
		for i := 0; i < len(a); i++ {
			if a[i] < '0' || a[i] > '9' {
				return false
			}
		}
	}
	return true
}

// Address is a postal address, as the OpenID Connect address claim (OIDC
// Core §5.1.1). Every member is optional, but an address has at least one.
type Address struct {
	// Formatted is the full address for display; it may contain newlines.
	Formatted string `json:"formatted,omitempty"`
	// StreetAddress is the street, house number, and so on; it may contain
	// newlines.
	StreetAddress string `json:"street_address,omitempty"`
	Locality      string `json:"locality,omitempty"`
	Region        string `json:"region,omitempty"`
	PostalCode    string `json:"postal_code,omitempty"`
	Country       string `json:"country,omitempty"`
}

func validateAddress(c *collector, field string, a *Address) {
	if *a == (Address{}) {
		c.add(field, "an address needs at least one member")
		return
	}
	checkMultiline(c, join(field, "formatted"), a.Formatted, maxLongText)
	checkMultiline(c, join(field, "street_address"), a.StreetAddress, maxText)
	for _, m := range []struct{ name, v string }{
		{"locality", a.Locality}, {"region", a.Region},
		{"postal_code", a.PostalCode}, {"country", a.Country},
	} {
		if m.v != "" {
			checkText(c, join(field, m.name), m.v, maxText, false)
		}
	}
}

// checkText checks a required single-line text claim: not empty, at most
// max code points, valid UTF-8, no control characters, no leading or
// trailing white space. If allowNewline, line breaks are allowed inside.
func checkText(c *collector, field, s string, max int, allowNewline bool) {
	if reason := textProblem(s, max, allowNewline); reason != "" {
		c.add(field, reason)
	}
}

func checkMultiline(c *collector, field, s string, max int) {
	if s != "" {
		checkText(c, field, s, max, true)
	}
}

func textProblem(s string, max int, allowNewline bool) string {
	switch {
	case strings.TrimSpace(s) == "":
		return "required"
	case !utf8.ValidString(s):
		return "not valid UTF-8"
	case utf8.RuneCountInString(s) > max:
		return fmt.Sprintf("longer than %d characters", max)
	case strings.TrimSpace(s) != s:
		return "leading or trailing white space"
	}
	for _, r := range s {
		if allowNewline && (r == '\n' || r == '\r') {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return "control character"
		}
	}
	return ""
}

// Coding is a code from a code system with its display text, as a FHIR
// Coding.
type Coding struct {
	// System is the code system's URI; optional.
	System string `json:"system,omitempty"`
	// Code is the code in System: no white space, at most 64 characters.
	Code string `json:"code"`
	// Display is the code's human-readable text.
	Display string `json:"display"`
}

func validateCoding(c *collector, field string, cd Coding) {
	if cd.System != "" {
		if reason := checkSystem(cd.System); reason != "" {
			c.add(join(field, "system"), reason)
		}
	}
	switch {
	case cd.Code == "":
		c.add(join(field, "code"), "required")
	case !utf8.ValidString(cd.Code) || utf8.RuneCountInString(cd.Code) > maxCode:
		c.add(join(field, "code"), fmt.Sprintf("not valid UTF-8 or longer than %d characters", maxCode))
	case strings.IndexFunc(cd.Code, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		c.add(join(field, "code"), "white space or control character in a code")
	}
	checkText(c, join(field, "display"), cd.Display, maxText, false)
}

func list[T ~string](l []T) string {
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
