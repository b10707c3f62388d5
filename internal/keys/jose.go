package keys

import (
	"errors"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// RawP256Signature converts an ASN.1 ECDSA-Sig-Value of P-256, as
// crypto.Signer returns it, to the JWS form (RFC 7518 section 3.4): R and
// S as 32-byte big-endian integers, 64 bytes in all.
func RawP256Signature(der []byte) ([]byte, error) {
	var seq, r, s cryptobyte.String
	in := cryptobyte.String(der)
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() || !readP256Int(&seq, &r) || !readP256Int(&seq, &s) || !seq.Empty() {
		return nil, errors.New("keys: malformed P-256 ECDSA signature")
	}
	sig := make([]byte, 64)
	copy(sig[32-len(r):32], r)
	copy(sig[64-len(s):], s)
	return sig, nil
}

// readP256Int reads one positive ASN.1 INTEGER of at most 32 bytes, as its
// big-endian magnitude without leading zeros.
func readP256Int(s *cryptobyte.String, out *cryptobyte.String) bool {
	var v cryptobyte.String
	if !s.ReadASN1(&v, asn1.INTEGER) || len(v) == 0 || v[0]&0x80 != 0 {
		return false
	}
	for len(v) > 1 && v[0] == 0 {
		v = v[1:]
	}
	if len(v) > 32 {
		return false
	}
	*out = v
	return true
}
