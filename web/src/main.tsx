// Corral's web UI: a hash-routed single page over the REST API.

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { currentSession, setSession, setUnauthorizedHandler } from "./api";
import { Layout } from "./components/layout";
import { Empty } from "./components/ui";
import { ClusterPage } from "./pages/cluster";
import { Clusters } from "./pages/clusters";
import { CreateCluster } from "./pages/create";
import { Dashboard } from "./pages/dashboard";
import { Hosts } from "./pages/hosts";
import { Images } from "./pages/images";
import { Login } from "./pages/login";
import { TerminalPage } from "./pages/terminal";
import { Users } from "./pages/users";
import { href, useRoute } from "./router";
import "./style.css";

function App() {
  const [session, setS] = useState(currentSession());
  const route = useRoute();

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setSession(null);
      setS(null);
    });
  }, []);

  if (!session) return <Login onLogin={() => setS(currentSession())} />;
  const logout = () => {
    setSession(null);
    setS(null);
    location.hash = "";
  };
  const admin = session.role === "admin";
  const [page, a, b, c, d] = route;

  let body;
  if (!page) body = <Dashboard session={session} />;
  else if (page === "clusters" && !a) body = <Clusters session={session} />;
  else if (page === "clusters" && a === "new") body = <CreateCluster session={session} />;
  else if (page === "clusters" && a && b && !c) body = <ClusterPage key={`${a}/${b}`} session={session} owner={a} name={b} />;
  else if (page === "clusters" && a && b && c === "terminal" && d)
    body = <TerminalPage key={`${a}/${b}/${d}`} session={session} owner={a} cluster={b} node={d} />;
  else if (page === "images") body = <Images session={session} />;
  else if (page === "hosts" && admin) body = <Hosts />;
  else if (page === "users" && admin) body = <Users />;
  else
    body = (
      <Empty>
        No such page. <a href={href()}>Back to the dashboard</a>.
      </Empty>
    );

  return (
    <Layout session={session} route={route} onLogout={logout}>
      {body}
    </Layout>
  );
}

render(<App />, document.getElementById("app")!);
