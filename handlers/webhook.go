package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// verifyWebhook answers Meta's verification handshake with its challenge.
func (s *Server) verifyWebhook(c *gin.Context) {
	challenge, err := s.app.VerifyWebhook(c.Request.URL.Query())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(challenge))
}

// receiveWebhook hands a delivery of Meta's webhook, raw and with its
// signature header, to the application (see tenants.Service.RecordWebhook).
func (s *Server) receiveWebhook(c *gin.Context) {
	raw, ok := s.readBody(c)
	if !ok {
		return
	}
	res, err := s.app.RecordWebhook(c.Request.Context(), raw, c.GetHeader("X-Hub-Signature-256"), s.metadata(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}
