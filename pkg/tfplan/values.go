package tfplan

import "encoding/json"

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func num(m map[string]any, k string) *float64 {
	switch v := m[k].(type) {
	case float64:
		return &v
	case json.Number:
		f, err := v.Float64()
		if err == nil {
			return &f
		}
	}
	return nil
}

func strs(m map[string]any, k string) []string {
	l, _ := m[k].([]any)
	var out []string
	for _, v := range l {
		if s, _ := v.(string); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func anyTrue(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case map[string]any:
		for _, x := range v {
			if anyTrue(x) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if anyTrue(x) {
				return true
			}
		}
	}
	return false
}
