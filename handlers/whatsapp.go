package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tenant-service/domain"
	"tenant-service/tenants"
)

type linkRequest struct {
	WABAID             string  `json:"wabaId"`
	PhoneNumberID      string  `json:"phoneNumberId"`
	DisplayPhoneNumber string  `json:"displayPhoneNumber"`
	AccessToken        *string `json:"accessToken"` // optional, but not empty when given
}

// linkWhatsApp links a WABA phone number by hand (WABALinked), and stores its
// access token when one is given (WhatsAppTokenStored), in one append.
func (s *Server) linkWhatsApp(c *gin.Context) {
	var req linkRequest
	id, w, ok := s.commandWithBody(c, &req)
	if !ok {
		return
	}
	link := domain.WABALinked{WABAID: req.WABAID, PhoneNumberID: req.PhoneNumberID, DisplayPhoneNumber: req.DisplayPhoneNumber}
	out, err := s.app.LinkWhatsApp(c.Request.Context(), id, link, req.AccessToken, w)
	s.answer(c, http.StatusCreated, out, err)
}

func (s *Server) unlinkWhatsApp(c *gin.Context) {
	id, ok := s.tenantID(c)
	if !ok {
		return
	}
	w, ok := s.write(c, nil)
	if !ok {
		return
	}
	out, err := s.app.UnlinkWhatsApp(c.Request.Context(), id, c.Param("phoneNumberId"), w)
	s.answer(c, http.StatusOK, out, err)
}

func (s *Server) getWhatsAppToken(c *gin.Context) {
	id, min, ok := s.secretRoute(c)
	if !ok {
		return
	}
	out, err := s.app.WhatsAppToken(c.Request.Context(), id, min)
	s.answerSecret(c, out, err)
}

type signupRequest struct {
	TenantID      string `json:"tenantId"`
	Code          string `json:"code"`
	WABAID        string `json:"wabaId"`
	PhoneNumberID string `json:"phoneNumberId"`
	BusinessID    string `json:"businessId"`
}

// signup is the server side of WhatsApp Embedded Signup (see
// tenants.Service.CompleteSignup).
func (s *Server) signup(c *gin.Context) {
	var req signupRequest
	if _, ok := s.readJSON(c, &req); !ok {
		return
	}
	out, err := s.app.CompleteSignup(c.Request.Context(), tenants.Signup{TenantID: req.TenantID, Code: req.Code,
		WABAID: req.WABAID, PhoneNumberID: req.PhoneNumberID, BusinessID: req.BusinessID}, domain.Write{Metadata: s.metadata(c)})
	s.answer(c, http.StatusOK, out, err)
}
