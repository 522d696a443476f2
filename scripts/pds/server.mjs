// A Bluesky PDS for the tests, started by scripts/bluesky-pds.sh: an in-memory PLC directory and
// a PDS (@atproto/pds) in one Node process, both on 127.0.0.1, nothing reached outside.
// Usage: node server.mjs RUN_DIR PORT
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { PDS, envToCfg, envToSecrets, readEnv } from '@atproto/pds'
import plc from '@did-plc/server'

const [runDir, port] = process.argv.slice(2)
if (!runDir || !port) {
  console.error('usage: node server.mjs RUN_DIR PORT')
  process.exit(2)
}

// Both servers call `app.listen(port)`, which binds every interface: keep them on loopback.
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && typeof args[1] !== 'string') {
    args.splice(1, 0, '127.0.0.1')
  }
  return listen.apply(this, args)
}

// The PLC directory lives in memory, so the DIDs of an earlier run are gone: the PDS's accounts
// of that run would not resolve any more, and are removed with its data.
const dataDir = path.join(runDir, 'data')
fs.rmSync(dataDir, { recursive: true, force: true })
fs.mkdirSync(path.join(dataDir, 'blobs'), { recursive: true })

const plcServer = plc.PlcServer.create({ db: plc.Database.mock(), port: 0 })
const plcHttp = await plcServer.start()
const plcUrl = `http://127.0.0.1:${plcHttp.address().port}`

Object.assign(process.env, {
  PDS_DEV_MODE: 'true',
  PDS_PORT: port,
  PDS_HOSTNAME: 'localhost',
  PDS_DATA_DIRECTORY: dataDir,
  PDS_BLOBSTORE_DISK_LOCATION: path.join(dataDir, 'blobs'),
  PDS_DID_PLC_URL: plcUrl,
  PDS_JWT_SECRET: crypto.randomBytes(16).toString('hex'),
  PDS_ADMIN_PASSWORD: 'admin',
  // A secp256k1 private key is 32 random bytes (below the curve order, in all but ~2^-128).
  PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: crypto.randomBytes(32).toString('hex'),
  PDS_SERVICE_HANDLE_DOMAINS: '.test',
  PDS_INVITE_REQUIRED: 'false',
  PDS_DISABLE_SSRF_PROTECTION: 'true',
  PDS_CRAWLERS: '',
  // No AppView runs here: app.bsky.* reads are not served, records are.
  PDS_BSKY_APP_VIEW_URL: 'http://127.0.0.1:1',
  PDS_BSKY_APP_VIEW_DID: 'did:example:appview',
})

const env = readEnv()
const pds = await PDS.create(envToCfg(env), envToSecrets(env))
await pds.start()
console.log(`PDS on http://127.0.0.1:${port} (PLC ${plcUrl}, data ${dataDir})`)

const stop = async () => {
  await pds.destroy()
  await plcServer.destroy()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
