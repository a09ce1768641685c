"""Authentication: API tokens, OpenID Connect JWTs (JWKS) and GA4GH Passport visas."""
