package config

import "reflect"

var (
	posType    = reflect.TypeOf(Pos{})
	posMapType = reflect.TypeOf(map[string]Pos{})
	posSlice   = reflect.TypeOf([]Pos{})
	secretType = reflect.TypeOf(Secret{})
	pkgPath    = posType.PkgPath()
)

// Equal reports whether two model values (a *Config or any object in it,
// such as a *Profile) describe the same configuration. Source positions are
// ignored, so a file that only moved lines compares equal; a nil list equals
// an empty one. The daemon uses it on reload to find the objects that changed.
func Equal(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if !va.IsValid() || !vb.IsValid() {
		return va.IsValid() == vb.IsValid()
	}
	if va.Type() != vb.Type() {
		return false
	}
	return equalValue(va, vb)
}

func equalValue(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			// a nil sub-block equals an empty one (e.g. a tunnel block
			// whose only line was a `no` form)
			if a.IsNil() && b.IsNil() {
				return true
			}
			z := reflect.New(a.Type().Elem()).Elem()
			if a.IsNil() {
				return equalValue(z, b.Elem())
			}
			return equalValue(a.Elem(), z)
		}
		return equalValue(a.Elem(), b.Elem())
	case reflect.Struct:
		switch {
		case a.Type() == posType:
			return true
		case a.Type() == secretType:
			return a.Interface().(Secret) == b.Interface().(Secret)
		case a.Type().PkgPath() != pkgPath:
			return reflect.DeepEqual(a.Interface(), b.Interface())
		}
		for i := 0; i < a.NumField(); i++ {
			f := a.Type().Field(i)
			if !f.IsExported() || f.Type == posMapType || f.Type == posSlice {
				continue
			}
			if !equalValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			if !equalValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			vb := b.MapIndex(k)
			if !vb.IsValid() || !equalValue(a.MapIndex(k), vb) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(a.Interface(), b.Interface())
	}
}
