-- Demo schema for the cache-warmer local stack.
--
-- This is what a Prisma app would create (quoted camelCase identifiers,
-- "<Table>_pkey" / "<Table>_<cols>_idx" names, timestamptz(3)), plus the
-- logical-replication publication the cache warmer subscribes to.
--
-- Idempotent: safe to apply any number of times (deploy/local/stack.sh up
-- applies it on every start of the primary, as role "cachewarmer").

SET client_min_messages = warning;

BEGIN;

CREATE TABLE IF NOT EXISTS "Product" (
    "id"              SERIAL           NOT NULL,
    "name"            TEXT             NOT NULL,
    "category"        TEXT             NOT NULL,
    "priceCents"      INTEGER          NOT NULL,
    "popularityScore" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "description"     TEXT,
    "updatedAt"       TIMESTAMPTZ(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "createdAt"       TIMESTAMPTZ(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Product_pkey" PRIMARY KEY ("id")
);

CREATE TABLE IF NOT EXISTS "Order" (
    "id"         SERIAL         NOT NULL,
    "userId"     INTEGER        NOT NULL,
    "status"     TEXT           NOT NULL DEFAULT 'pending',
    "totalCents" INTEGER        NOT NULL,
    "currency"   CHAR(3)        NOT NULL DEFAULT 'USD',
    "items"      JSONB          NOT NULL DEFAULT '[]',
    "note"       TEXT,
    "createdAt"  TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt"  TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Order_pkey" PRIMARY KEY ("id")
);

CREATE TABLE IF NOT EXISTS "Event" (
    "id"        BIGSERIAL      NOT NULL,
    "type"      TEXT           NOT NULL,
    "payload"   JSONB,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Event_pkey" PRIMARY KEY ("id")
);

-- Deliberately NOT in the publication: tests write here to generate WAL
-- that the cache warmer's publication does not cover.
CREATE TABLE IF NOT EXISTS "AuditLog" (
    "id"        BIGSERIAL      NOT NULL,
    "message"   TEXT           NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "AuditLog_pkey" PRIMARY KEY ("id")
);

-- Indexes as Prisma would name them (@@index([...])).
CREATE INDEX IF NOT EXISTS "Order_userId_idx"
    ON "Order" ("userId");
CREATE INDEX IF NOT EXISTS "Order_status_createdAt_idx"
    ON "Order" ("status", "createdAt");
CREATE INDEX IF NOT EXISTS "Product_category_popularityScore_idx"
    ON "Product" ("category", "popularityScore" DESC);
CREATE INDEX IF NOT EXISTS "Event_type_createdAt_idx"
    ON "Event" ("type", "createdAt");

-- Updates and deletes of products carry the old row, so a category change fences exactly the
-- old and the new category's catalog pages (with DEFAULT identity the old category is unknown
-- and the whole catalog-page query would be fenced).
ALTER TABLE "Product" REPLICA IDENTITY FULL;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'cache_warmer_pub') THEN
        CREATE PUBLICATION cache_warmer_pub FOR TABLE "Order", "Product", "Event";
    END IF;
END
$$;

COMMIT;
