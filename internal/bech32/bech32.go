// Package bech32 implements the Bech32m checksummed text encoding of BIP 350
// (the successor of BIP 173's Bech32), used for nakachain addresses.
//
// A Bech32m string is a human-readable part, the separator '1', and data in
// a 32-character alphabet followed by a 6-character checksum. The checksum is
// a BCH code that detects any error in up to four characters, so a single
// mistyped character is always caught. Strings are case-insensitive but must
// not mix cases.
package bech32

import (
	"errors"
	"fmt"
	"strings"
)

const (
	charset       = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	checksumConst = 0x2bc830a3 // Bech32m; Bech32 (BIP 173) used 1
	checksumLen   = 6
	maxLen        = 90
)

// ErrInvalid is wrapped by every decoding error.
var ErrInvalid = errors.New("invalid bech32m string")

// charValue maps a byte to its 5-bit value, or -1.
func charValue(c byte) int {
	return strings.IndexByte(charset, c)
}

func polymod(values []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := range 5 {
			if (top>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}

func hrpExpand(hrp string) []byte {
	out := make([]byte, 0, 2*len(hrp)+1)
	for i := 0; i < len(hrp); i++ {
		out = append(out, hrp[i]>>5)
	}
	out = append(out, 0)
	for i := 0; i < len(hrp); i++ {
		out = append(out, hrp[i]&31)
	}
	return out
}

// Encode returns the Bech32m string of hrp (lowercase ASCII 33..126) and
// data given as 5-bit groups (each value < 32).
func Encode(hrp string, data5 []byte) (string, error) {
	if len(hrp) == 0 || len(hrp)+1+len(data5)+checksumLen > maxLen {
		return "", fmt.Errorf("%w: length", ErrInvalid)
	}
	for i := 0; i < len(hrp); i++ {
		if c := hrp[i]; c < 33 || c > 126 || (c >= 'A' && c <= 'Z') {
			return "", fmt.Errorf("%w: human-readable part has character %q", ErrInvalid, c)
		}
	}
	values := append(hrpExpand(hrp), data5...)
	for _, v := range data5 {
		if v >= 32 {
			return "", fmt.Errorf("%w: data value %d is not 5-bit", ErrInvalid, v)
		}
	}
	values = append(values, make([]byte, checksumLen)...)
	mod := polymod(values) ^ checksumConst
	var b strings.Builder
	b.Grow(len(hrp) + 1 + len(data5) + checksumLen)
	b.WriteString(hrp)
	b.WriteByte('1')
	for _, v := range data5 {
		b.WriteByte(charset[v])
	}
	for i := range checksumLen {
		b.WriteByte(charset[(mod>>(5*(5-i)))&31])
	}
	return b.String(), nil
}

// Decode checks s and returns its lowercase human-readable part and its data
// as 5-bit groups, without the checksum.
func Decode(s string) (hrp string, data5 []byte, err error) {
	if len(s) > maxLen {
		return "", nil, fmt.Errorf("%w: longer than %d characters", ErrInvalid, maxLen)
	}
	lower, upper := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 {
			return "", nil, fmt.Errorf("%w: character %q at %d", ErrInvalid, c, i)
		}
		lower = lower || (c >= 'a' && c <= 'z')
		upper = upper || (c >= 'A' && c <= 'Z')
	}
	if lower && upper {
		return "", nil, fmt.Errorf("%w: mixed case", ErrInvalid)
	}
	s = strings.ToLower(s)
	sep := strings.LastIndexByte(s, '1')
	if sep < 1 || sep+1+checksumLen > len(s) {
		return "", nil, fmt.Errorf("%w: missing separator or checksum", ErrInvalid)
	}
	hrp = s[:sep]
	data := make([]byte, 0, len(s)-sep-1)
	for i := sep + 1; i < len(s); i++ {
		v := charValue(s[i])
		if v < 0 {
			return "", nil, fmt.Errorf("%w: character %q at %d is not in the alphabet", ErrInvalid, s[i], i)
		}
		data = append(data, byte(v))
	}
	if polymod(append(hrpExpand(hrp), data...)) != checksumConst {
		return "", nil, fmt.Errorf("%w: checksum mismatch (a mistyped character?)", ErrInvalid)
	}
	return hrp, data[:len(data)-checksumLen], nil
}

// ConvertBits regroups data from groups of from bits into groups of to bits
// (both at most 8). With pad, a final partial group is zero-padded; without
// it, leftover bits must be fewer than from and all zero.
func ConvertBits(data []byte, from, to uint, pad bool) ([]byte, error) {
	var acc, bits uint
	maxv := uint(1)<<to - 1
	out := make([]byte, 0, len(data)*int(from)/int(to)+1)
	for _, v := range data {
		if uint(v)>>from != 0 {
			return nil, fmt.Errorf("%w: value %d wider than %d bits", ErrInvalid, v, from)
		}
		acc = acc<<from | uint(v)
		bits += from
		for bits >= to {
			bits -= to
			out = append(out, byte((acc>>bits)&maxv))
		}
	}
	if pad {
		if bits > 0 {
			out = append(out, byte((acc<<(to-bits))&maxv))
		}
	} else if bits >= from || (acc<<(to-bits))&maxv != 0 {
		return nil, fmt.Errorf("%w: non-zero padding", ErrInvalid)
	}
	return out, nil
}
