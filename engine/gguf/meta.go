package gguf

import (
	"errors"
	"fmt"
	"math"
)

// ErrKeyNotFound is wrapped by getter errors for absent keys.
var ErrKeyNotFound = errors.New("key not found")

// Has reports whether the metadata holds key.
func (f *File) Has(key string) bool {
	_, ok := f.Metadata[key]
	return ok
}

func (f *File) get(key string) (any, error) {
	v, ok := f.Metadata[key]
	if !ok {
		return nil, fmt.Errorf("gguf: key %q: %w", key, ErrKeyNotFound)
	}
	return v, nil
}

func goTypeName(v any) string {
	switch v.(type) {
	case []any:
		return "array of arrays"
	}
	return fmt.Sprintf("%T", v)
}

func wrongType(key string, v any, want string) error {
	return fmt.Errorf("gguf: key %q: found %s, want %s", key, goTypeName(v), want)
}

// asInt64 widens any integer value; ok is false for other types or a
// uint64 above MaxInt64.
func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case uint8:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case int16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

// String returns a string value.
func (f *File) String(key string) (string, error) {
	v, err := f.get(key)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", wrongType(key, v, "string")
	}
	return s, nil
}

// Uint32 returns an integer value that fits in uint32.
func (f *File) Uint32(key string) (uint32, error) {
	v, err := f.get(key)
	if err != nil {
		return 0, err
	}
	n, ok := asInt64(v)
	if !ok {
		return 0, wrongType(key, v, "an integer")
	}
	if n < 0 || n > math.MaxUint32 {
		return 0, fmt.Errorf("gguf: key %q: %d does not fit in uint32", key, n)
	}
	return uint32(n), nil
}

// Int returns an integer value that fits in int.
func (f *File) Int(key string) (int, error) {
	v, err := f.get(key)
	if err != nil {
		return 0, err
	}
	n, ok := asInt64(v)
	if !ok {
		return 0, wrongType(key, v, "an integer")
	}
	if int64(int(n)) != n {
		return 0, fmt.Errorf("gguf: key %q: %d does not fit in int", key, n)
	}
	return int(n), nil
}

// Float32 returns a float value; integers and float64 are converted.
func (f *File) Float32(key string) (float32, error) {
	v, err := f.get(key)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case float32:
		return x, nil
	case float64:
		return float32(x), nil
	}
	if n, ok := asInt64(v); ok {
		return float32(n), nil
	}
	return 0, wrongType(key, v, "a number")
}

// Bool returns a bool value.
func (f *File) Bool(key string) (bool, error) {
	v, err := f.get(key)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, wrongType(key, v, "bool")
	}
	return b, nil
}

// Strings returns an array of strings (not copied).
func (f *File) Strings(key string) ([]string, error) {
	v, err := f.get(key)
	if err != nil {
		return nil, err
	}
	s, ok := v.([]string)
	if !ok {
		return nil, wrongType(key, v, "array of string")
	}
	return s, nil
}

// Float32s returns an array of float32 (not copied); float64 arrays are
// converted.
func (f *File) Float32s(key string) ([]float32, error) {
	v, err := f.get(key)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case []float32:
		return x, nil
	case []float64:
		out := make([]float32, len(x))
		for i, e := range x {
			out[i] = float32(e)
		}
		return out, nil
	}
	return nil, wrongType(key, v, "array of float32")
}

// Int32s returns an integer array as []int32; []int32 is returned as is,
// other integer arrays are converted when every element fits.
func (f *File) Int32s(key string) ([]int32, error) {
	v, err := f.get(key)
	if err != nil {
		return nil, err
	}
	if x, ok := v.([]int32); ok {
		return x, nil
	}
	var out []int32
	conv := func(n int, at func(int) int64) error {
		out = make([]int32, n)
		for i := range out {
			e := at(i)
			if e < math.MinInt32 || e > math.MaxInt32 {
				return fmt.Errorf("gguf: key %q: element %d = %d does not fit in int32", key, i, e)
			}
			out[i] = int32(e)
		}
		return nil
	}
	switch x := v.(type) {
	case []uint8:
		err = conv(len(x), func(i int) int64 { return int64(x[i]) })
	case []int8:
		err = conv(len(x), func(i int) int64 { return int64(x[i]) })
	case []uint16:
		err = conv(len(x), func(i int) int64 { return int64(x[i]) })
	case []int16:
		err = conv(len(x), func(i int) int64 { return int64(x[i]) })
	case []uint32:
		err = conv(len(x), func(i int) int64 { return int64(x[i]) })
	case []int64:
		err = conv(len(x), func(i int) int64 { return x[i] })
	case []uint64:
		err = conv(len(x), func(i int) int64 {
			if x[i] > math.MaxInt64 {
				return math.MaxInt64
			}
			return int64(x[i])
		})
	default:
		return nil, wrongType(key, v, "array of int32")
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}
