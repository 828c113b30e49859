/**
 * The chat page's entry: one Apollo Client for the page's lifetime, its credential, and the App.
 * StrictMode stays on: the hook is written to start nothing twice under its double effects.
 */
import './style.css';

import { ApolloProvider } from '@apollo/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

import { createChatClient } from './apollo.js';
import { App } from './App.js';
import { Credential } from './credential.js';

const credential = new Credential();
const client = createChatClient(credential);
const root = document.getElementById('root');
if (!root) throw new Error('#root is missing from index.html');

createRoot(root).render(
  <StrictMode>
    <ApolloProvider client={client}>
      <App credential={credential} />
    </ApolloProvider>
  </StrictMode>,
);
