module.exports = { greeting: 'Hello from Slipway' };
