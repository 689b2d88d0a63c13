package tokenizer

import (
	"fmt"
	"math"
)

// GGUF metadata keys read by FromMetadata.
const (
	KeyModel          = "tokenizer.ggml.model"
	KeyPre            = "tokenizer.ggml.pre"
	KeyTokens         = "tokenizer.ggml.tokens"
	KeyTokenType      = "tokenizer.ggml.token_type"
	KeyScores         = "tokenizer.ggml.scores"
	KeyMerges         = "tokenizer.ggml.merges"
	KeyBOS            = "tokenizer.ggml.bos_token_id"
	KeyEOS            = "tokenizer.ggml.eos_token_id"
	KeyEOT            = "tokenizer.ggml.eot_token_id"
	KeyEOM            = "tokenizer.ggml.eom_token_id"
	KeyUnknown        = "tokenizer.ggml.unknown_token_id"
	KeyPadding        = "tokenizer.ggml.padding_token_id"
	KeyAddBOS         = "tokenizer.ggml.add_bos_token"
	KeyAddEOS         = "tokenizer.ggml.add_eos_token"
	KeyAddSpacePrefix = "tokenizer.ggml.add_space_prefix"
	KeyChatTemplate   = "tokenizer.chat_template"
)

// The metadata map comes from a file someone else wrote, so every accessor
// checks the dynamic type and names the key when it is wrong.

func mdString(md map[string]any, key string) (string, bool, error) {
	v, ok := md[key]
	if !ok {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", true, fmt.Errorf("tokenizer: metadata %s: want string, got %T", key, v)
	}
	return s, true, nil
}

func mdStrings(md map[string]any, key string) ([]string, bool, error) {
	v, ok := md[key]
	if !ok {
		return nil, false, nil
	}
	switch a := v.(type) {
	case []string:
		return a, true, nil
	case []any:
		out := make([]string, len(a))
		for i, e := range a {
			s, ok := e.(string)
			if !ok {
				return nil, true, fmt.Errorf("tokenizer: metadata %s[%d]: want string, got %T", key, i, e)
			}
			out[i] = s
		}
		return out, true, nil
	}
	return nil, true, fmt.Errorf("tokenizer: metadata %s: want string array, got %T", key, v)
}

// asInt64 converts any Go integer type; ok is false for other types.
func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint:
		if uint64(x) > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

func mdInt(md map[string]any, key string) (int64, bool, error) {
	v, ok := md[key]
	if !ok {
		return 0, false, nil
	}
	n, ok := asInt64(v)
	if !ok {
		return 0, true, fmt.Errorf("tokenizer: metadata %s: want integer, got %T", key, v)
	}
	return n, true, nil
}

func mdBool(md map[string]any, key string) (bool, bool, error) {
	v, ok := md[key]
	if !ok {
		return false, false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, true, fmt.Errorf("tokenizer: metadata %s: want bool, got %T", key, v)
	}
	return b, true, nil
}

func mdInts(md map[string]any, key string) ([]int64, bool, error) {
	v, ok := md[key]
	if !ok {
		return nil, false, nil
	}
	conv := func(n int, at func(int) (int64, bool)) ([]int64, error) {
		out := make([]int64, n)
		for i := range out {
			x, ok := at(i)
			if !ok {
				return nil, fmt.Errorf("tokenizer: metadata %s[%d]: not an integer in range", key, i)
			}
			out[i] = x
		}
		return out, nil
	}
	var out []int64
	var err error
	switch a := v.(type) {
	case []int32:
		out, err = conv(len(a), func(i int) (int64, bool) { return int64(a[i]), true })
	case []uint32:
		out, err = conv(len(a), func(i int) (int64, bool) { return int64(a[i]), true })
	case []int64:
		out, err = conv(len(a), func(i int) (int64, bool) { return a[i], true })
	case []uint64:
		out, err = conv(len(a), func(i int) (int64, bool) { return asInt64(a[i]) })
	case []int:
		out, err = conv(len(a), func(i int) (int64, bool) { return int64(a[i]), true })
	case []int8:
		out, err = conv(len(a), func(i int) (int64, bool) { return int64(a[i]), true })
	case []uint8:
		out, err = conv(len(a), func(i int) (int64, bool) { return int64(a[i]), true })
	case []int16:
		out, err = conv(len(a), func(i int) (int64, bool) { return int64(a[i]), true })
	case []uint16:
		out, err = conv(len(a), func(i int) (int64, bool) { return int64(a[i]), true })
	case []any:
		out, err = conv(len(a), func(i int) (int64, bool) { return asInt64(a[i]) })
	default:
		return nil, true, fmt.Errorf("tokenizer: metadata %s: want integer array, got %T", key, v)
	}
	return out, true, err
}

func mdFloats(md map[string]any, key string) ([]float32, bool, error) {
	v, ok := md[key]
	if !ok {
		return nil, false, nil
	}
	switch a := v.(type) {
	case []float32:
		return a, true, nil
	case []float64:
		out := make([]float32, len(a))
		for i, x := range a {
			out[i] = float32(x)
		}
		return out, true, nil
	case []any:
		out := make([]float32, len(a))
		for i, e := range a {
			switch x := e.(type) {
			case float32:
				out[i] = x
			case float64:
				out[i] = float32(x)
			default:
				n, ok := asInt64(e)
				if !ok {
					return nil, true, fmt.Errorf("tokenizer: metadata %s[%d]: want number, got %T", key, i, e)
				}
				out[i] = float32(n)
			}
		}
		return out, true, nil
	}
	// llama.cpp also accepts integer scores.
	if ints, _, err := mdInts(md, key); err == nil {
		out := make([]float32, len(ints))
		for i, x := range ints {
			out[i] = float32(x)
		}
		return out, true, nil
	}
	return nil, true, fmt.Errorf("tokenizer: metadata %s: want float array, got %T", key, v)
}
