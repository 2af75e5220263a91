package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGuardHTTP(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	tests := []struct {
		addr, token, want string
		refused           bool
	}{
		{":8080", "", "127.0.0.1:8080", false},
		{"localhost:0", "", "localhost:0", false},
		{"[::1]:9", "", "[::1]:9", false},
		{"0.0.0.0:8080", "", "", true},
		{"10.1.2.3:80", "", "", true},
		{"0.0.0.0:8080", "s3cret", "0.0.0.0:8080", false},
		{"nonsense", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr+"/"+tt.token, func(t *testing.T) {
			t.Setenv(httpTokenEnv, tt.token)
			addr, h, err := guardHTTP(tt.addr, ok)
			if (err != nil) != tt.refused || addr != tt.want {
				t.Fatalf("guardHTTP(%q) = %q, %v; want %q, refused %v", tt.addr, addr, err, tt.want, tt.refused)
			}
			if err != nil || tt.token == "" {
				return
			}
			for _, c := range []struct {
				auth, query string
				code        int
			}{
				{"", "", http.StatusUnauthorized},
				{"Bearer wrong", "", http.StatusUnauthorized},
				{"Bearer " + tt.token, "", http.StatusTeapot},
				{"", "?token=" + tt.token, http.StatusSeeOther}, // the cookie, and the address without the token
				{"", "?token=nope", http.StatusUnauthorized},
			} {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest("GET", "/"+c.query, nil)
				if c.auth != "" {
					req.Header.Set("Authorization", c.auth)
				}
				h.ServeHTTP(rec, req)
				if rec.Code != c.code {
					t.Errorf("auth %q query %q: %d, want %d", c.auth, c.query, rec.Code, c.code)
				}
			}
			// The token's link sets a cookie of the token's own name and
			// leads to the page without the token in its address.
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/live?run=r1&token="+tt.token, nil))
			cookies := rec.Result().Cookies()
			if loc := rec.Header().Get("Location"); loc != "/live?run=r1" || len(cookies) != 1 || !strings.HasPrefix(cookies[0].Name, "gahpo_token_") {
				t.Fatalf("the token's link: Location %q, cookies %v; want /live?run=r1 and one gahpo_token_* cookie", loc, cookies)
			}
			for _, c := range []struct {
				cookie http.Cookie
				code   int
			}{
				{*cookies[0], http.StatusTeapot},
				{http.Cookie{Name: "gahpo_token", Value: tt.token}, http.StatusUnauthorized}, // another dashboard's name
			} {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest("GET", "/live?run=r1", nil)
				req.AddCookie(&c.cookie)
				h.ServeHTTP(rec, req)
				if rec.Code != c.code {
					t.Errorf("cookie %s: %d, want %d", c.cookie.Name, rec.Code, c.code)
				}
			}
		})
	}
}

// TestLoopbackDashboardAnswersLocalNamesOnly: the dashboard on loopback has
// no token, so it answers only requests naming this machine: a page whose
// name an attacker points at 127.0.0.1 (DNS rebinding) is refused.
func TestLoopbackDashboardAnswersLocalNamesOnly(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	_, h, err := guardHTTP("127.0.0.1:0", ok)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host string
		code int
	}{
		{"127.0.0.1:8080", http.StatusTeapot},
		{"localhost:8080", http.StatusTeapot},
		{"localhost", http.StatusTeapot},
		{"[::1]:8080", http.StatusTeapot},
		{"127.0.0.2", http.StatusTeapot},
		{"attacker.example:8080", http.StatusMisdirectedRequest},
		{"rebind.attacker.example", http.StatusMisdirectedRequest},
		{"10.0.0.1:8080", http.StatusMisdirectedRequest},
		{"", http.StatusMisdirectedRequest},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/snapshot", nil)
		req.Host = tc.host
		h.ServeHTTP(rec, req)
		if rec.Code != tc.code {
			t.Errorf("Host %q: %d, want %d", tc.host, rec.Code, tc.code)
		}
	}
}
