package testutil

import "testing"

func TestLoaders(t *testing.T) {
	var chk, sdmf, mdmf int
	for _, v := range CapVectors(t) {
		switch {
		case v.Format.Kind == "chk":
			chk++
			if len(v.ConvergenceSecret(t)) == 0 {
				t.Fatalf("%s: no convergence secret", v.Expected)
			}
		case v.SSKFormat() == "sdmf":
			sdmf++
		case v.SSKFormat() == "mdmf":
			mdmf++
		}
		if got := len(v.Plaintext(t)); got != v.Sample.Length {
			t.Fatalf("%s: plaintext %d bytes, want %d", v.Expected, got, v.Sample.Length)
		}
	}
	if chk != 120 || sdmf != 120 || mdmf != 120 {
		t.Fatalf("chk %d, sdmf %d, mdmf %d; want 120 each", chk, sdmf, mdmf)
	}
	objs := GridObjects(t)
	if len(objs) != 8 || objs[0].Readcap == "" || objs[6].Children == nil {
		t.Fatalf("grid objects not loaded fully: %+v", objs[0])
	}
}
