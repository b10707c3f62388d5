package multikey

import (
	"errors"
	"strings"
)

// The Bitcoin base58 alphabet, which multibase 'z' uses.
const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// base58Encode returns the base58-btc encoding of b: one '1' for each
// leading zero byte, then the rest of b as a big-endian base-58 number.
func base58Encode(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	// log(256)/log(58) < 1.37, so this many digits suffice.
	digits := make([]byte, 0, (len(b)-zeros)*137/100+1)
	for _, c := range b[zeros:] {
		carry := int(c)
		for i := range digits {
			carry += int(digits[i]) << 8
			digits[i] = byte(carry % 58)
			carry /= 58
		}
		for carry > 0 {
			digits = append(digits, byte(carry%58))
			carry /= 58
		}
	}
	var sb strings.Builder
	sb.Grow(zeros + len(digits))
	for range zeros {
		sb.WriteByte('1')
	}
	for i := len(digits) - 1; i >= 0; i-- {
		sb.WriteByte(alphabet[digits[i]])
	}
	return sb.String()
}

var errBase58 = errors.New("invalid base58 character")

// base58Decode is the inverse of base58Encode.
func base58Decode(s string) ([]byte, error) {
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	// log(58)/log(256) < 0.74.
	out := make([]byte, 0, (len(s)-zeros)*74/100+1) // little-endian
	for i := zeros; i < len(s); i++ {
		d := strings.IndexByte(alphabet, s[i])
		if d < 0 {
			return nil, errBase58
		}
		carry := d
		for j := range out {
			carry += int(out[j]) * 58
			out[j] = byte(carry)
			carry >>= 8
		}
		for carry > 0 {
			out = append(out, byte(carry))
			carry >>= 8
		}
	}
	b := make([]byte, zeros+len(out))
	for i, c := range out {
		b[len(b)-1-i] = c
	}
	return b, nil
}
