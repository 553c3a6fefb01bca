package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"tenant-service/domain"
)

// Who may use a route. Admin keys may use every route.
var (
	adminOnly   = []Role{}
	readers     = []Role{RoleAuditor}
	feedReaders = []Role{RoleAuditor, RoleService} // a consuming service resyncs from the feed
	services    = []Role{RoleService}
	everyone    = []Role{RoleAuditor, RoleService}
)

// ConsolePath is where the admin console is served (its files are under
// ConsolePath/): not API, so not in the OpenAPI document.
const ConsolePath = "/admin"

// routes is the route table: every route the API answers, its roles and its
// handler.
func (s *Server) routes() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.ContextWithFallback = true
	r.Use(s.requestContext, s.accessLog, s.recovery, s.limitBody, s.deadline)
	r.NoRoute(func(c *gin.Context) { s.fail(c, domain.Errorf(domain.KindNotFound, "not-found", "no such route")) })
	r.NoMethod(func(c *gin.Context) {
		s.fail(c, domain.Errorf(domain.KindMethodNotAllowed, "method-not-allowed", "the route does not allow %s", c.Request.Method))
	})
	s.router = r

	// Without a key.
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{})))
	r.GET("/api/whatsapp/webhook", s.verifyWebhook) // Meta's handshake
	r.POST("/api/whatsapp/webhook", s.receiveWebhook)
	r.GET("/asyncapi.json", s.asyncAPI)
	r.GET("/openapi.json", s.openAPI)
	if s.cfg.Console != nil {
		// The admin console: static files; it calls the API below with
		// the key its user signs in with.
		r.GET(ConsolePath, func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, ConsolePath+"/") })
		r.GET(ConsolePath+"/*filepath", gin.WrapH(s.cfg.Console))
	}

	// Tenants.
	s.route(http.MethodPost, "/api/tenants", adminOnly, s.createTenant)
	s.route(http.MethodGet, "/api/tenants", readers, s.listTenants)
	s.route(http.MethodGet, "/api/tenants/:tenantId", readers, s.getTenant)
	s.route(http.MethodPatch, "/api/tenants/:tenantId", adminOnly, s.updateTenant)
	s.route(http.MethodDelete, "/api/tenants/:tenantId", adminOnly, s.deleteTenant)
	s.route(http.MethodPost, "/api/tenants/:tenantId/suspend", adminOnly, s.suspendTenant)
	s.route(http.MethodPost, "/api/tenants/:tenantId/reactivate", adminOnly, s.reactivateTenant)

	// Who the key is (the console signs in with it).
	s.route(http.MethodGet, "/api/whoami", everyone, s.whoami)

	// History.
	s.route(http.MethodGet, "/api/tenants/:tenantId/events", readers, s.tenantEvents)
	s.route(http.MethodGet, "/api/tenants/:tenantId/verify", readers, s.verifyTenant)
	s.route(http.MethodGet, "/api/events", feedReaders, s.allEvents)
	s.route(http.MethodGet, streamPath, feedReaders, s.eventStream)
	s.route(http.MethodGet, "/api/events/verify", readers, s.verifyFeed)

	// Genesys Cloud.
	s.route(http.MethodPut, "/api/tenants/:tenantId/genesys/credentials", adminOnly, s.putCredentials)
	s.route(http.MethodGet, "/api/tenants/:tenantId/genesys/credentials", readers, s.getCredentials)
	s.route(http.MethodGet, "/api/tenants/:tenantId/genesys/credentials/secret", services, s.getCredentialsSecret)
	s.route(http.MethodPut, "/api/tenants/:tenantId/genesys/integration", adminOnly, s.putIntegration)
	s.route(http.MethodGet, "/api/tenants/:tenantId/genesys/token", services, s.getGenesysToken)

	// WhatsApp.
	s.route(http.MethodPost, "/api/tenants/:tenantId/whatsapp", adminOnly, s.linkWhatsApp)
	s.route(http.MethodDelete, "/api/tenants/:tenantId/whatsapp/:phoneNumberId", adminOnly, s.unlinkWhatsApp)
	s.route(http.MethodGet, "/api/tenants/:tenantId/whatsapp/token", services, s.getWhatsAppToken)
	s.route(http.MethodPost, "/api/whatsapp/signup", adminOnly, s.signup)

	// What the platform's services resolve webhooks with.
	s.route(http.MethodGet, "/api/resolve/whatsapp/:phoneNumberId", services, s.resolvePhone)
	s.route(http.MethodGet, "/api/resolve/genesys/:integrationId", services, s.resolveIntegration)
	s.route(http.MethodGet, "/api/resolve/tenant/:tenantId", services, s.resolveTenant)
}

// route registers a route behind authentication and the given roles, and
// records the roles, which the OpenAPI document's security requirements must
// list (openapi_test.go).
func (s *Server) route(method, path string, roles []Role, h gin.HandlerFunc) {
	if s.roles == nil {
		s.roles = map[Route][]Role{}
	}
	s.roles[Route{Method: method, Path: path}] = append([]Role{RoleAdmin}, roles...)
	s.router.Handle(method, path, s.authenticate, s.allow(roles...), h)
}
