const express = require('express');
const { greeting } = require('./greeting');

const app = express();
const port = Number(process.env.PORT || 8080);

app.get('/', (req, res) => {
  res.type('text/plain').send(`${greeting} (Node.js ${process.version}, express ${require('express/package.json').version}, NODE_ENV=${process.env.NODE_ENV})\n`);
});

if (process.argv.includes('--once')) {
  console.log(`${greeting} (Node.js ${process.version}, express ${require('express/package.json').version})`);
} else {
  app.listen(port, () => console.log(`listening on ${port}`));
}
