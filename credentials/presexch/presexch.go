// Package presexch reads DIF Presentation Exchange 2.0 presentation
// definitions, for wallets and verifiers that still speak it, and
// translates the common subset into a DCQL query (credentials/dcql), so
// that matching, claim selection and response checks have one model.
//
// The subset: input_descriptors, each with one format (dc+sd-jwt or its
// old name vc+sd-jwt, jwt_vc_json or jwt_vc, ldp_vc, mso_mdoc; on the
// descriptor or the definition) and constraints.fields whose path is a
// simple JSONPath ($.a.b, $['a'], $.a[0], $.a[*]) and whose filter, if
// any, is a const or an enum of strings, integers or booleans (with a
// matching "type"). The credential type comes from a field on $.vct
// (SD-JWT VC, const or enum) or on $.type (W3C, "contains" a const);
// an mdoc's doctype is its descriptor id, as ISO 18013-7 does it. A field
// may list $.x and $.vc.x as alternatives for a jwt_vc_json. Optional
// fields become a second DCQL claim set without them.
//
// Parse refuses everything else with an error naming the member:
// submission_requirements, group, predicate, frame, holder and status
// constraints, other filters (pattern, minimum, ...), other JSONPath
// syntax, several formats for one descriptor. A filter that DCQL cannot
// express would be silently dropped otherwise, widening the request.
package presexch

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/medid/medid/credentials/dcql"
)

// ErrUnsupported is wrapped by every error Parse returns, for definitions
// that are invalid or outside the supported subset.
var ErrUnsupported = fmt.Errorf("presentation definition not supported")

// MaxLength is the longest definition Parse accepts, in bytes.
const MaxLength = 64 << 10

// Definition is a presentation definition translated to DCQL.
type Definition struct {
	// ID is the definition's id.
	ID string
	// Query is the equivalent DCQL query: one Credential Query per input
	// descriptor, all required.
	Query *dcql.Query
	// DescriptorIDs maps each Credential Query ID to its input
	// descriptor's id (they differ when the descriptor id is not a valid
	// DCQL id: then the query ID is "descriptor_<index>").
	DescriptorIDs map[string]string
}

func fail(path, msg string) error {
	if path == "" {
		return fmt.Errorf("%w: %s", ErrUnsupported, msg)
	}
	return fmt.Errorf("%w: %s: %s", ErrUnsupported, path, msg)
}

// Parse reads a presentation_definition and translates it.
func Parse(data []byte) (*Definition, error) {
	if len(data) > MaxLength {
		return nil, fail("", fmt.Sprintf("longer than %d bytes", MaxLength))
	}
	var root map[string]any
	if err := strictDecode(data, &root); err != nil {
		return nil, fail("", "not a JSON object: "+err.Error())
	}
	if err := allow(root, "", "id", "name", "purpose", "format", "input_descriptors"); err != nil {
		return nil, err
	}
	def := &Definition{DescriptorIDs: map[string]string{}}
	var ok bool
	if def.ID, ok = root["id"].(string); !ok || def.ID == "" {
		return nil, fail("id", "required (a non-empty string)")
	}
	defFormat, err := format(root["format"], "format", true)
	if err != nil {
		return nil, err
	}
	ids, _ := root["input_descriptors"].([]any)
	if len(ids) == 0 || len(ids) > dcql.MaxItems {
		return nil, fail("input_descriptors", fmt.Sprintf("required (1 to %d descriptors)", dcql.MaxItems))
	}
	q := &dcql.Query{}
	seen := map[string]bool{}
	for i, v := range ids {
		p := "input_descriptors[" + strconv.Itoa(i) + "]"
		cq, descID, err := descriptor(v, p, defFormat)
		if err != nil {
			return nil, err
		}
		if seen[descID] {
			return nil, fail(p+".id", "duplicate input descriptor id")
		}
		seen[descID] = true
		cq.ID = descID
		if !dcql.IsValidID(descID) {
			cq.ID = "descriptor_" + strconv.Itoa(i)
		}
		def.DescriptorIDs[cq.ID] = descID
		q.Credentials = append(q.Credentials, *cq)
	}
	// Round trip through the DCQL parser: what we built is a valid query.
	b, err := json.Marshal(q)
	if err != nil {
		return nil, fail("", err.Error())
	}
	if def.Query, err = dcql.Parse(b); err != nil {
		return nil, fmt.Errorf("%w: translates to an invalid DCQL query: %v", ErrUnsupported, err)
	}
	return def, nil
}

func descriptor(v any, p string, defFormat dcql.Format) (*dcql.CredentialQuery, string, error) {
	d, ok := v.(map[string]any)
	if !ok {
		return nil, "", fail(p, "must be an object")
	}
	if err := allow(d, p, "id", "name", "purpose", "format", "constraints"); err != nil {
		return nil, "", err
	}
	id, ok := d["id"].(string)
	if !ok || id == "" || len(id) > dcql.MaxStringLength {
		return nil, "", fail(p+".id", "required (a non-empty string)")
	}
	f, err := format(d["format"], p+".format", true)
	if err != nil {
		return nil, "", err
	}
	if f == "" {
		f = defFormat
	}
	if f == "" {
		return nil, "", fail(p+".format", "required here or on the definition")
	}
	cq := &dcql.CredentialQuery{Format: f, RequireHolderBinding: true}
	if f == dcql.FormatMDoc {
		cq.Meta.DoctypeValue = id
	}
	cons, _ := d["constraints"].(map[string]any)
	if cons == nil {
		return nil, "", fail(p+".constraints", "required (an object with fields)")
	}
	if err := allow(cons, p+".constraints", "fields", "limit_disclosure"); err != nil {
		return nil, "", err
	}
	if ld, has := cons["limit_disclosure"]; has && ld != "required" && ld != "preferred" {
		return nil, "", fail(p+".constraints.limit_disclosure", `must be "required" or "preferred"`)
	}
	fields, _ := cons["fields"].([]any)
	if len(fields) == 0 || len(fields) > dcql.MaxItems {
		return nil, "", fail(p+".constraints.fields", fmt.Sprintf("required (1 to %d fields)", dcql.MaxItems))
	}
	var required, optional []string
	for j, fv := range fields {
		fp := p + ".constraints.fields[" + strconv.Itoa(j) + "]"
		path, values, opt, err := field(fv, fp, f)
		if err != nil {
			return nil, "", err
		}
		var retain *bool
		if r, has := fv.(map[string]any)["intent_to_retain"]; has {
			b, ok := r.(bool)
			if !ok || f != dcql.FormatMDoc {
				return nil, "", fail(fp+".intent_to_retain", "a boolean, for mso_mdoc only")
			}
			retain = &b
		}
		switch {
		case f == dcql.FormatSDJWTVC && len(path) == 1 && path[0] == "vct":
			if values == nil {
				return nil, "", fail(fp+".filter", "a $.vct field needs a const or enum filter")
			}
			for _, v := range values {
				s, ok := v.(string)
				if !ok {
					return nil, "", fail(fp+".filter", "vct values are strings")
				}
				cq.Meta.VCTValues = append(cq.Meta.VCTValues, s)
			}
			continue
		case f == dcql.FormatJWTVCJSON || f == dcql.FormatLDPVC:
			if len(path) == 1 && path[0] == "type" {
				types, err := typeFilter(fv, fp)
				if err != nil {
					return nil, "", err
				}
				cq.Meta.TypeValues = append(cq.Meta.TypeValues, types)
				continue
			}
		}
		cid := "f" + strconv.Itoa(j)
		cq.Claims = append(cq.Claims, dcql.ClaimQuery{ID: cid, Path: path, Values: values, IntentToRetain: retain})
		if opt {
			optional = append(optional, cid)
		} else {
			required = append(required, cid)
		}
	}
	switch {
	case f == dcql.FormatSDJWTVC && len(cq.Meta.VCTValues) == 0:
		return nil, "", fail(p+".constraints.fields", "an SD-JWT VC descriptor needs a field on $.vct with a const or enum filter")
	case (f == dcql.FormatJWTVCJSON || f == dcql.FormatLDPVC) && len(cq.Meta.TypeValues) == 0:
		return nil, "", fail(p+".constraints.fields", `a W3C VC descriptor needs a field on $.type with a "contains" const filter`)
	case len(cq.Meta.TypeValues) > 1:
		// Several $.type fields must all hold: one type set.
		var all []string
		for _, ts := range cq.Meta.TypeValues {
			all = append(all, ts...)
		}
		cq.Meta.TypeValues = [][]string{all}
	}
	if len(optional) > 0 {
		cq.ClaimSets = [][]string{append(slices.Clone(required), optional...)}
		if len(required) > 0 {
			cq.ClaimSets = append(cq.ClaimSets, required)
		} else {
			// Every field optional: no claim is required, which DCQL
			// says by leaving the claims out.
			cq.Claims, cq.ClaimSets = nil, nil
		}
	}
	return cq, id, nil
}

// field reads one constraints.fields entry: its path (alternatives must
// agree), the accepted values from its filter, and whether it is
// optional.
func field(v any, p string, f dcql.Format) (dcql.Path, []any, bool, error) {
	fo, ok := v.(map[string]any)
	if !ok {
		return nil, nil, false, fail(p, "must be an object")
	}
	if err := allow(fo, p, "id", "name", "purpose", "path", "filter", "optional", "intent_to_retain"); err != nil {
		return nil, nil, false, err
	}
	opt, _ := fo["optional"].(bool)
	if o, has := fo["optional"]; has {
		if _, ok := o.(bool); !ok {
			return nil, nil, false, fail(p+".optional", "must be a boolean")
		}
	}
	paths, _ := fo["path"].([]any)
	if len(paths) == 0 || len(paths) > 8 {
		return nil, nil, false, fail(p+".path", "required (1 to 8 JSONPath expressions)")
	}
	var path dcql.Path
	for k, pv := range paths {
		pp := p + ".path[" + strconv.Itoa(k) + "]"
		s, ok := pv.(string)
		if !ok {
			return nil, nil, false, fail(pp, "must be a string")
		}
		jp, err := ParseJSONPath(s)
		if err != nil {
			return nil, nil, false, fail(pp, err.Error())
		}
		if f == dcql.FormatJWTVCJSON && len(jp) > 1 && jp[0] == "vc" {
			jp = jp[1:] // a JWT VC's claims are matched inside its vc claim
		}
		if f == dcql.FormatMDoc && (len(jp) != 2 || !jp.IsConcrete() || !isString(jp[0]) || !isString(jp[1])) {
			return nil, nil, false, fail(pp, "an mso_mdoc path is $['namespace']['element']")
		}
		if path == nil {
			path = jp
		} else if !path.Equal(jp) {
			return nil, nil, false, fail(pp, "alternative paths that point to different claims are not supported")
		}
	}
	if path.Equal(dcql.Path{"type"}) && (f == dcql.FormatJWTVCJSON || f == dcql.FormatLDPVC) {
		return path, nil, opt, nil // typeFilter reads this filter
	}
	fv, has := fo["filter"]
	if !has {
		return path, nil, opt, nil
	}
	values, err := valueFilter(fv, p+".filter")
	return path, values, opt, err
}

func isString(v any) bool { _, ok := v.(string); return ok }

// valueFilter reads a filter of the form {"type": T, "const": v} or
// {"type": T, "enum": [...]}, the only JSON Schemas DCQL values can say.
func valueFilter(v any, p string) ([]any, error) {
	fo, ok := v.(map[string]any)
	if !ok {
		return nil, fail(p, "must be an object")
	}
	if err := allow(fo, p, "type", "const", "enum"); err != nil {
		return nil, err
	}
	var raw []any
	c, hasConst := fo["const"]
	e, hasEnum := fo["enum"]
	switch {
	case hasConst && hasEnum:
		return nil, fail(p, "const and enum together are not supported")
	case hasConst:
		raw = []any{c}
	case hasEnum:
		raw, _ = e.([]any)
		if len(raw) == 0 || len(raw) > dcql.MaxItems {
			return nil, fail(p+".enum", "must be a non-empty array")
		}
	default:
		return nil, fail(p, "a filter without const or enum cannot be expressed in DCQL")
	}
	typ, hasType := fo["type"].(string)
	if _, has := fo["type"]; has && !hasType {
		return nil, fail(p+".type", "must be a string")
	}
	var out []any
	for _, r := range raw {
		var val any
		var t string
		switch x := r.(type) {
		case string:
			val, t = x, "string"
		case bool:
			val, t = x, "boolean"
		case json.Number:
			n, err := strconv.ParseInt(string(x), 10, 64)
			if err != nil {
				return nil, fail(p, "numbers in const or enum must be integers")
			}
			val, t = n, "integer"
		default:
			return nil, fail(p, "const and enum values must be strings, integers or booleans")
		}
		if hasType && typ != t && !(typ == "number" && t == "integer") {
			return nil, fail(p+".type", "does not match the const or enum values")
		}
		out = append(out, val)
	}
	return out, nil
}

// typeFilter reads the filter of a $.type field: {"type": "array",
// "contains": {"const": T}} (or "type": "string" with a const).
func typeFilter(v any, p string) ([]string, error) {
	fo, _ := v.(map[string]any)
	filter, _ := fo["filter"].(map[string]any)
	if filter == nil {
		return nil, fail(p+".filter", `a $.type field needs a "contains" const filter`)
	}
	if err := allow(filter, p+".filter", "type", "contains", "const"); err != nil {
		return nil, err
	}
	if c, ok := filter["const"].(string); ok && c != "" && filter["contains"] == nil {
		return []string{c}, nil
	}
	contains, _ := filter["contains"].(map[string]any)
	if contains == nil {
		return nil, fail(p+".filter", `a $.type field needs a "contains" const filter`)
	}
	if err := allow(contains, p+".filter.contains", "type", "const"); err != nil {
		return nil, err
	}
	c, ok := contains["const"].(string)
	if !ok || c == "" {
		return nil, fail(p+".filter.contains.const", "required (a type name)")
	}
	return []string{c}, nil
}

// format reads a PE format object (its keys are format names; the values
// list algorithms, which are not checked here).
func format(v any, p string, optional bool) (dcql.Format, error) {
	if v == nil {
		if optional {
			return "", nil
		}
		return "", fail(p, "required")
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return "", fail(p, "must be a non-empty object keyed by format")
	}
	if len(m) > 1 {
		return "", fail(p, "more than one format for one descriptor is not supported")
	}
	for k := range m {
		switch k {
		case "dc+sd-jwt", "vc+sd-jwt":
			return dcql.FormatSDJWTVC, nil
		case "jwt_vc_json", "jwt_vc":
			return dcql.FormatJWTVCJSON, nil
		case "ldp_vc":
			return dcql.FormatLDPVC, nil
		case "mso_mdoc":
			return dcql.FormatMDoc, nil
		}
	}
	return "", fail(p, "unsupported format (want dc+sd-jwt, vc+sd-jwt, jwt_vc_json, jwt_vc, ldp_vc or mso_mdoc)")
}

// allow refuses any member of obj not in names.
func allow(obj map[string]any, p string, names ...string) error {
	var bad []string
	for k := range obj {
		if !slices.Contains(names, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	where := p
	if where == "" {
		where = "definition"
	}
	name := bad[0]
	if len(name) > 64 || !printable(name) {
		name = "(unprintable)"
	}
	return fail(where, fmt.Sprintf("member %q is not supported", name))
}

func printable(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || r > 0x7e })
}
